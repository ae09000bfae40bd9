/**
 * Dispatches per pipeline key in one training step (forward, cross-entropy,
 * backward, global-norm clipping, fused AdamW) of a small Llama-style
 * transformer, on whatever WebGPU adapter Dawn gives (llvmpipe here). No
 * timing: counts only, to see where the elementwise dispatches come from.
 *   bash packages/layers/bench/ew-bundle.sh && (cd packages/tensor && node dist-bundle/ew/count.mjs)
 * Env: L, D, H, F, V, B, T (model and batch), WHERE=1 (key each dispatch by the
 * source lines that issued it; bundle with --sourcemap=inline and run with
 * node --enable-source-maps), DYNCONV_LAYER_FUSION=0 / DYNCONV_FUSED_GRAD_NORM=0
 * (the composed ops), DSC=1 (dynamic convs on Q/K/V, as the e2e bench's `dsc` variant).
 */
import { decodeConfig, transformer } from '@dynconv/architectures';
import { crossEntropy, noGrad, tensor, tidy } from '@dynconv/tensor';
import { requestNodeGpuDevice, WebGPUBackend } from '@dynconv/tensor/node';
import { AdamW } from '../src/optim/adamw.js';
import { makeFusedAdamWUpdate } from '../src/optim/adamw-webgpu.js';
import { clipScale, globalGradNorm } from '../src/optim/clip.js';
import { paramGroups } from '../src/optim/param-groups.js';

const env = (n: string, d: number) => Number(process.env[n] ?? d);
const opened = await requestNodeGpuDevice();
const b = new WebGPUBackend(opened.device, { poison: false });
const rt = b.runtime;
const config = decodeConfig(transformer.configSchema, {
  nLayers: env('L', 2),
  dModel: env('D', 64),
  nHeads: env('H', 4),
  mlpHidden: env('F', 96),
  vocabSize: env('V', 128),
  tieEmbeddings: false,
  ...(process.env.DSC === '1' ? { conv: 'dynamic-qkv' } : {}),
});
const [B, T] = [env('B', 2), env('T', 16)];
const model = transformer.build(config, { backend: b, seed: 1 });
const adamw = new AdamW(
  model.parameters,
  paramGroups(model.parameters, model.noDecay, 0.1),
  { beta1: 0.9, beta2: 0.95, eps: 1e-8 },
  makeFusedAdamWUpdate(rt),
);
const ids = (salt: number) => {
  const a = new Int32Array(B * T);
  for (let i = 0; i < a.length; i++) a[i] = (i * 7919 + salt) % config.vocabSize;
  return tensor(a, { shape: [B, T], dtype: 'i32', backend: b });
};
const [x, y] = [ids(1), ids(2)];
const counts = new Map<string, number>();
const orig = rt.dispatch.bind(rt);
let counting = false;
rt.dispatch = (spec) => {
  if (counting) {
    let key = spec.pipelineKey;
    if (process.env.WHERE) {
      // The first frames outside the tensor package: which layer code issued it.
      const frames = (new Error().stack ?? '')
        .split('\n')
        .slice(2)
        .map((f) => f.trim());
      const own = frames.filter((f) => !/packages\/tensor\/src/.test(f)).slice(0, 2);
      const op = frames.find((f) => /packages\/tensor\/src\/ops/.test(f));
      key += `  <= ${(op ?? '').replace(/.*at /, '').replace(/\(.*packages\//, '(')}  <= ${own.map((f) => f.replace(/.*at /, '').replace(/\(.*packages\//, '(')).join(' < ')}`;
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return orig(spec);
};
const step = async () => {
  const loss = tidy(() => {
    const ce = crossEntropy(model.forward({ ids: x }, { training: true }), y);
    ce.backward();
    return ce.detach();
  });
  const norm = globalGradNorm(model.parameters.values());
  const [l, n] = [await loss.item(), await norm.item()];
  loss.dispose();
  norm.dispose();
  adamw.step(1e-3, clipScale(n, 1));
  noGrad(() => {
    for (const p of model.parameters.values()) p.zeroGrad();
  });
  return l;
};
await step();
const live = b.liveBuffers();
counting = true;
const loss = await step();
counting = false;
await step();
let total = 0;
for (const [, c] of counts) total += c;
console.log(
  `loss ${loss.toFixed(5)}; ${total} dispatches/step; ${counts.size} keys; live buffers ${live} -> ${b.liveBuffers()}`,
);
for (const [k, c] of [...counts].sort((a, c2) => c2[1] - a[1])) console.log(`${String(c).padStart(5)}  ${k}`);
