import type { Backend } from '@dynconv/tensor';

/** What the timer needs of the WebGPU runtime: GPU time of one recorded batch, or null without timestamps. */
interface TimedRuntime {
  timeGpu(work: () => void): Promise<number | null>;
}

/**
 * A median-of-`iters` timer of GPU work after `warmup` unmeasured runs: timestamp
 * queries around the recorded dispatches when the device has them, else the
 * wall clock around a sync.
 */
export const gpuTimer =
  (backend: Backend, rt: TimedRuntime, iters: number, warmup: number) =>
  async (work: () => void): Promise<number> => {
    for (let i = 0; i < warmup; i++) work();
    await backend.sync();
    const samples: number[] = [];
    for (let i = 0; i < iters; i++) {
      const gpu = await rt.timeGpu(work);
      if (gpu !== null) samples.push(gpu);
      else {
        const t0 = performance.now();
        work();
        await backend.sync();
        samples.push(performance.now() - t0);
      }
    }
    samples.sort((a, b) => a - b);
    return samples[Math.floor(samples.length / 2)]!;
  };
