import type { KernelTime } from '@dynconv/tensor/node';

/**
 * The profiled step's GPU time by kernel family (the pipeline key up to its
 * first '|'), largest first, then the top pipelines, beside the timed step's
 * wall time. Keys are the kernels' own names (matmul variants, elementwise
 * ops, conv/attention kernels).
 */
export function profileLines(
  label: string,
  byKey: ReadonlyMap<string, KernelTime>,
  stepMs: number,
): string[] {
  const families = new Map<string, { dispatches: number; ms: number; keys: number }>();
  let total = 0;
  for (const [key, t] of byKey) {
    const family = key.split('|')[0]!;
    const f = families.get(family) ?? { dispatches: 0, ms: 0, keys: 0 };
    f.dispatches += t.dispatches;
    f.ms += t.ms;
    f.keys++;
    families.set(family, f);
    total += t.ms;
  }
  const lines = [
    `profile ${label}: ${total.toFixed(1)} ms of GPU time in dispatches (timed step ${stepMs.toFixed(1)} ms wall)`,
  ];
  for (const [family, f] of [...families].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25))
    lines.push(
      `  ${family.padEnd(34)} ${f.ms.toFixed(2).padStart(8)} ms  ${((100 * f.ms) / total).toFixed(1).padStart(5)} %  ${String(f.dispatches).padStart(5)} dispatches  ${f.keys} keys`,
    );
  lines.push('  top pipelines:');
  for (const [key, t] of [...byKey].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30))
    lines.push(
      `  ${t.ms.toFixed(2).padStart(8)} ms  ${String(t.dispatches).padStart(5)} ×  ${key.slice(0, 110)}`,
    );
  return lines;
}
