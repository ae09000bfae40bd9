import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { E2eOptions } from './options.js';

/**
 * The PyTorch twin of the benchmark model, `packages/trainer/bench/torch_e2e.py`
 * of the checkout this module runs from: looked up from this module's
 * directory upwards (the path differs between the sources, `dist/` and the
 * CLI's bundle). Null when not found.
 */
export function torchTwinScript(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    for (const candidate of [
      join(dir, 'bench', 'torch_e2e.py'),
      join(dir, 'packages', 'trainer', 'bench', 'torch_e2e.py'),
    ])
      if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The environment that sizes the twin like `o` and points it at `outDir` (where it reads the WebGPU JSON). */
export const torchTwinEnv = (o: E2eOptions, outDir: string): Record<string, string> => ({
  E2E_LAYERS: String(o.layers),
  E2E_DMODEL: String(o.dModel),
  E2E_HEADS: String(o.heads),
  E2E_HIDDEN: String(o.mlpHidden),
  E2E_VOCAB: String(o.vocab),
  E2E_BATCH: String(o.batch),
  E2E_SEQ: String(o.seqLen),
  E2E_VARIANTS: o.variants.join(','),
  BENCH_OUT: outDir,
});

/**
 * Runs the twin with `python` (PyTorch with CUDA needed) after a WebGPU run
 * that wrote `outDir/e2e-webgpu.json`; it times f32 and bf16 eager on the
 * same GPU, writes `torch-e2e.json` there and prints the WebGPU / PyTorch
 * ratios. Output lines go to `log`; resolves with the exit status.
 */
export function runTorchTwin(
  o: E2eOptions,
  outDir: string,
  log: (line: string) => void,
  python = 'python3',
  script = torchTwinScript(),
): Promise<number> {
  if (!script || !existsSync(script))
    return Promise.reject(
      new Error(`PyTorch twin not found (${script ?? 'packages/trainer/bench/torch_e2e.py'})`),
    );
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script], {
      env: { ...process.env, ...torchTwinEnv(o, outDir) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    const onData = (chunk: Buffer) => {
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) log(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => reject(new Error(`could not start ${python}: ${e.message}`)));
    child.on('close', (code) => {
      if (pending) log(pending);
      resolve(code ?? 1);
    });
  });
}
