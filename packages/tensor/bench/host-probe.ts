/**
 * Host-time attribution for `host-recording.ts`: wraps methods of the runtime,
 * the pool, the device and Dawn's encoder prototypes with timers that charge
 * each category its exclusive time (a wrapped call inside another one is
 * subtracted from the outer one). Bench-only: it reaches into private fields
 * by name, so a rename in `runtime.ts` shows up here as a thrown error.
 */
import type { GpuRuntime } from '../src/webgpu/runtime.js';
import { UniformStruct } from '../src/webgpu/uniforms.js';

export type Category =
  | 'createBindGroup (Dawn)'
  | 'bind-group key + lookup (JS)'
  | 'buffer acquire/release'
  | 'pipeline lookup'
  | 'uniform pack'
  | 'uniform upload (writeBuffer)'
  | 'encoder: setBindGroup'
  | 'encoder: setPipeline + dispatch'
  | 'encoder: begin/end/finish'
  | 'submit (Dawn backend)'
  | 'runtime.dispatch (self)';

export interface Probe {
  /** Exclusive milliseconds per category since the last `reset`. */
  readonly ms: Map<Category, number>;
  /** Milliseconds inside `queue.submit` since the last `reset` (timed in both modes: few calls). */
  submitMs: number;
  /** createBindGroup calls since the last `reset`. */
  bindGroups: number;
  /** Buffers created by the storage pool since the last `reset`. */
  buffersCreated: number;
  reset(): void;
}

type AnyFn = (...args: unknown[]) => unknown;

/**
 * Installs the counters, and with `timed` the timers. Counting alone costs a
 * property increment per call; timing adds two `performance.now()` per
 * wrapped call (≈ 0.1 µs each), so the headline µs/dispatch comes from an
 * untimed run and the timed run gives the split.
 */
export function installProbe(rt: GpuRuntime, timed: boolean): Probe {
  const probe: Probe = {
    ms: new Map(),
    submitMs: 0,
    bindGroups: 0,
    buffersCreated: 0,
    reset() {
      this.ms.clear();
      this.submitMs = 0;
      this.bindGroups = 0;
      this.buffersCreated = 0;
    },
  };
  // Exclusive time: each frame accumulates the time of the wrapped calls it made.
  const childStack: number[] = [];
  const wrap = (
    target: object,
    name: string,
    category: Category | null,
    onCall?: () => void,
    onTime?: (ms: number) => void,
  ): void => {
    const original = (target as Record<string, AnyFn>)[name];
    if (typeof original !== 'function') throw new Error(`host-probe: ${name} is not a method`);
    const time = timed || onTime !== undefined;
    (target as Record<string, AnyFn>)[name] = function (this: unknown, ...args: unknown[]) {
      onCall?.();
      if (!time || category === null) return original.apply(this, args);
      childStack.push(0);
      const t0 = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        const elapsed = performance.now() - t0;
        const children = childStack.pop()!;
        onTime?.(elapsed);
        probe.ms.set(category, (probe.ms.get(category) ?? 0) + elapsed - children);
        if (childStack.length > 0) childStack[childStack.length - 1]! += elapsed;
      }
    };
  };

  const device = rt.device;
  const internals = rt as unknown as Record<string, object>;
  wrap(device, 'createBindGroup', 'createBindGroup (Dawn)', () => probe.bindGroups++);
  wrap(device, 'createBuffer', null, () => probe.buffersCreated++);
  wrap(device.queue, 'submit', 'submit (Dawn backend)', undefined, (ms) => {
    probe.submitMs += ms;
  });
  if (!timed) return probe;

  wrap(device.queue, 'writeBuffer', 'uniform upload (writeBuffer)');
  wrap(rt, 'dispatch', 'runtime.dispatch (self)');
  // Before the bind-group cache moved to its own class it was the runtime's `bindGroup` method.
  if ('bindGroup' in internals) wrap(rt, 'bindGroup', 'bind-group key + lookup (JS)');
  else wrap(internals.bindGroups as object, 'get', 'bind-group key + lookup (JS)');
  wrap(rt, 'pipeline', 'pipeline lookup');
  for (const pool of [internals.pool, internals.stagingPool]) {
    if (!pool) throw new Error('host-probe: runtime has no pool field');
    wrap(pool, 'acquire', 'buffer acquire/release');
    wrap(pool, 'release', 'buffer acquire/release');
  }
  wrap(UniformStruct.prototype, 'pack', 'uniform pack');
  // Encoders are created per batch: patch the prototypes Dawn's objects share.
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  const passProto = Object.getPrototypeOf(pass) as object;
  const encoderProto = Object.getPrototypeOf(encoder) as object;
  pass.end();
  encoder.finish();
  wrap(passProto, 'setBindGroup', 'encoder: setBindGroup');
  wrap(passProto, 'setPipeline', 'encoder: setPipeline + dispatch');
  wrap(passProto, 'dispatchWorkgroups', 'encoder: setPipeline + dispatch');
  wrap(passProto, 'end', 'encoder: begin/end/finish');
  wrap(encoderProto, 'beginComputePass', 'encoder: begin/end/finish');
  wrap(encoderProto, 'finish', 'encoder: begin/end/finish');
  wrap(device, 'createCommandEncoder', 'encoder: begin/end/finish');
  return probe;
}
