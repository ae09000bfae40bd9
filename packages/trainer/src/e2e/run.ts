import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../checkpoint/files.js';
import { type E2eOptions, e2eProblems } from './options.js';
import { E2E_PEAK, type E2eRow, e2eRowLine, runE2eConfig } from './step-loop.js';

/** What `dynconv bench e2e` measured, as written to `e2e-webgpu.json`. */
export interface E2eReport {
  readonly device: string;
  readonly options: E2eOptions;
  readonly matmulCaps: unknown;
  readonly peak: typeof E2E_PEAK;
  readonly rows: readonly (E2eRow | E2eFailure)[];
}

/** A configuration that could not run (the error's first lines). */
export interface E2eFailure {
  readonly variant: string;
  readonly mode: string;
  readonly batch: number;
  readonly error: string;
}

/** Thrown for invalid options: lists every problem. */
export class E2eOptionsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid e2e benchmark options:\n  ${problems.join('\n  ')}`);
  }
}

/**
 * Runs the end-to-end training-step benchmark on Dawn's WebGPU: every
 * variant × mode of `o`, each at the full batch and, when that fails, at half
 * of it. Logs a table line per configuration through `log` and, with
 * `outDir`, rewrites `outDir/e2e-webgpu.json` after each one (atomically), so
 * a run cut short keeps what it measured; `bench/torch_e2e.py` reads that
 * file for the PyTorch ratios of the same run.
 */
export async function runE2eBenchmark(
  o: E2eOptions,
  io: { readonly outDir?: string; readonly log: (line: string) => void },
): Promise<E2eReport> {
  const problems = e2eProblems(o);
  if (problems.length > 0) throw new E2eOptionsError(problems);
  const node = await import('@dynconv/tensor/node');
  const opened = await node.requestNodeGpuDevice();
  const info = opened.adapterInfo;
  const device = `${info.vendor} ${info.architecture} ${info.description || info.device}`.trim();
  const limits = opened.device.limits;
  io.log(
    `device: ${device}; maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}, maxBufferSize ${limits.maxBufferSize}; ` +
      `subgroup matrices: ${opened.matmulCaps.subgroupMatrix ? 'yes' : 'no'} (${opened.matmulCaps.subgroupMatrixNote})`,
  );
  io.log(
    `model: ${o.layers} layers, d=${o.dModel}, ${o.heads} heads, SwiGLU ${o.mlpHidden}, vocab ${o.vocab}, untied; ` +
      `B=${o.batch}, T=${o.seqLen}; ${o.warmup} warm-up + ${o.steps} timed steps; ${o.hostSync ? 'host' : 'device'} loop`,
  );
  const b = new node.WebGPUBackend(opened.device, {
    poison: false,
    onDestroy: () => opened.device.destroy(),
  });
  const rows: (E2eRow | E2eFailure)[] = [];
  const report = (): E2eReport => ({
    device,
    options: o,
    matmulCaps: opened.matmulCaps,
    peak: E2E_PEAK,
    rows,
  });
  if (io.outDir) await mkdir(io.outDir, { recursive: true });
  const save = async () => {
    if (io.outDir)
      await writeFileAtomic(join(io.outDir, 'e2e-webgpu.json'), `${JSON.stringify(report(), null, 2)}\n`);
  };
  const started = performance.now();
  try {
    for (const variant of o.variants)
      for (const mode of o.modes)
        for (const batch of [...new Set([o.batch, Math.max(1, Math.floor(o.batch / 2))])]) {
          if (performance.now() - started > o.budgetS * 1000) {
            io.log(`skip ${variant} ${mode}: over the ${o.budgetS} s budget`);
            break;
          }
          try {
            const row = await runE2eConfig(b, o, variant, mode, batch);
            rows.push(row);
            io.log(e2eRowLine(row));
            for (const line of row.profile ?? []) io.log(line);
            break;
          } catch (error) {
            const message = (error as Error).message.split('\n').slice(0, 4).join(' | ');
            io.log(`${variant} ${mode} B=${batch}: FAILED ${message}`);
            rows.push({ variant, mode, batch, error: message });
            await b.sync().catch(() => undefined);
            b.runtime.trim();
          } finally {
            await save();
          }
        }
  } finally {
    b.destroy();
  }
  return report();
}
