/**
 * Host-side cost of recording a training step on the WebGPU backend (issue 9):
 * µs of JavaScript + Dawn time per dispatch and `createBindGroup` calls per
 * step, for a small transformer-like step built from `@dynconv/tensor` ops
 * only (embedding, RMSNorm, attention, GELU MLP, cross-entropy, backward,
 * global gradient norm and a composed AdamW update). Tensors are tiny so that
 * llvmpipe's GPU work stays small: what is measured is the host.
 *
 * Two passes over the same steps: an untimed one (only createBindGroup and
 * createBuffer counted) gives the headline µs per dispatch; a timed one splits
 * it by category (see `host-probe.ts`; its timers add ≈ 1 µs per dispatch).
 *
 * Run (from packages/tensor):
 *   node --conditions=@dynconv/source --experimental-strip-types bench/run.ts host-recording
 * Env: HOST_LAYERS (4), HOST_STEPS (12, the first HOST_WARMUP (3) untimed),
 * HOST_DMODEL (64), HOST_SEQ (16), HOST_BATCH (2), HOST_OPTIM (inplace | replace, see
 * `adamw`), HOST_MAX_BATCH (dispatches per submit, default 100000: one submit per
 * segment, so llvmpipe's kernels never run while the host records), HOST_SPLIT (0: skip
 * the timed pass), HOST_OUT (write JSON there).
 * Profile: add `--cpu-prof --cpu-prof-dir=DIR` to the node command.
 */
import { writeFileSync } from 'node:fs';
import * as T from '../src/index.js';
import { requestNodeGpuDevice } from '../src/node.js';
import { WebGPUBackend } from '../src/webgpu/backend.js';
import { type Category, installProbe, type Probe } from './host-probe.js';

const envInt = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v ? Number.parseInt(v, 10) : fallback;
};

const cfg = {
  layers: envInt('HOST_LAYERS', 4),
  d: envInt('HOST_DMODEL', 64),
  heads: 4,
  seq: envInt('HOST_SEQ', 16),
  batch: envInt('HOST_BATCH', 2),
  vocab: 96,
  steps: envInt('HOST_STEPS', 12),
  warmup: envInt('HOST_WARMUP', 3),
  optim: process.env.HOST_OPTIM === 'replace' ? 'replace' : 'inplace',
  maxBatch: envInt('HOST_MAX_BATCH', 100_000),
};

type Params = Map<string, T.Tensor>;

function buildParams(backend: WebGPUBackend): Params {
  const gen = new T.Generator(11);
  const { d, vocab } = cfg;
  const p: Params = new Map();
  const init = (name: string, shape: number[], scale: number) =>
    p.set(name, T.tidy(() => T.mul(T.randn(shape, { backend, generator: gen }), scale)).requireGrad());
  const ones = (name: string, n: number) => p.set(name, T.ones([n], { backend }).requireGrad());
  init('emb', [vocab, d], 0.5);
  for (let l = 0; l < cfg.layers; l++) {
    ones(`l${l}.n1`, d);
    init(`l${l}.wqkv`, [d, 3 * d], 1 / Math.sqrt(d));
    init(`l${l}.wo`, [d, d], 1 / Math.sqrt(d));
    ones(`l${l}.n2`, d);
    init(`l${l}.w1`, [d, 4 * d], 1 / Math.sqrt(d));
    p.set(`l${l}.b1`, T.zeros([4 * d], { backend }).requireGrad());
    init(`l${l}.w2`, [4 * d, d], 1 / Math.sqrt(4 * d));
  }
  ones('nf', d);
  init('head', [d, vocab], 1 / Math.sqrt(d));
  return p;
}

/** Forward + cross-entropy + backward; returns the loss (gradients land on the parameters). */
function forwardBackward(p: Params, ids: T.Tensor, targets: T.Tensor, mask: T.Tensor): T.Tensor {
  return T.tidy(() => {
    const { batch: B, seq: S, d, heads: H } = cfg;
    const dh = d / H;
    const w = (name: string) => p.get(name)!;
    let x = T.embedding(w('emb'), ids);
    for (let l = 0; l < cfg.layers; l++) {
      const h = T.rmsNorm(x, w(`l${l}.n1`));
      const [q, k, v] = T.split(T.matmul(h, w(`l${l}.wqkv`)), 3, -1).map((t) =>
        T.permute(T.reshape(T.contiguous(t), [B, S, H, dh]), [0, 2, 1, 3]),
      );
      const scores = T.add(T.mul(T.matmul(q!, T.transpose(k!)), 1 / Math.sqrt(dh)), mask);
      const att = T.matmul(T.softmax(scores), v!);
      const merged = T.reshape(T.permute(att, [0, 2, 1, 3]), [B, S, d]);
      x = T.add(x, T.matmul(merged, w(`l${l}.wo`)));
      const h2 = T.rmsNorm(x, w(`l${l}.n2`));
      const up = T.gelu(T.add(T.matmul(h2, w(`l${l}.w1`)), w(`l${l}.b1`)));
      x = T.add(x, T.matmul(up, w(`l${l}.w2`)));
    }
    const logits = T.matmul(T.rmsNorm(x, w('nf')), w('head'));
    const loss = T.crossEntropy(logits, targets);
    loss.backward();
    return loss;
  });
}

/** sqrt(Σ‖g‖²) over every gradient, one element, no read. */
const gradNorm = (p: Params): T.Tensor =>
  T.noGrad(() =>
    T.tidy(() => {
      let total: T.Tensor | null = null;
      for (const t of p.values()) {
        const s = T.sum(T.square(t.grad!));
        total = total ? T.add(total, s) : s;
      }
      return T.sqrt(total!);
    }),
  );

/**
 * AdamW from elementwise ops. `inplace` (default) copies the new moments back
 * into m and v, the allocation pattern of the trainer's fused WebGPU update
 * (long-lived buffers fixed); `replace` swaps in new tensors each step like
 * the trainer's composed update (its CPU / fallback path).
 */
function adamw(p: Params, m: Params, v: Params, t: number, scale: number): void {
  const lr = 1e-3;
  const [b1, b2, eps, wd] = [0.9, 0.95, 1e-8, 0.1];
  const bias1 = 1 - b1 ** t;
  const bias2 = 1 - b2 ** t;
  T.noGrad(() => {
    for (const [name, param] of p) {
      const next = T.tidy(() => {
        const g = T.unaryRaw('affine', param.grad!, scale, 0);
        const mn = T.add(T.unaryRaw('affine', m.get(name)!, b1, 0), T.unaryRaw('affine', g, 1 - b1, 0));
        const vn = T.add(
          T.unaryRaw('affine', v.get(name)!, b2, 0),
          T.unaryRaw('affine', T.square(g), 1 - b2, 0),
        );
        const denom = T.unaryRaw('affine', T.sqrt(vn), 1 / Math.sqrt(bias2), eps);
        const update = T.unaryRaw('affine', T.div(mn, denom), lr / bias1, 0);
        const decayed = T.unaryRaw('affine', param, 1 - lr * wd, 0);
        const updated = T.sub(decayed, update);
        param.backend.copy(updated.view(), param.view());
        if (cfg.optim === 'replace') return { mn: T.keep(mn), vn: T.keep(vn) };
        param.backend.copy(mn.view(), m.get(name)!.view());
        param.backend.copy(vn.view(), v.get(name)!.view());
        return null;
      });
      if (next) {
        m.get(name)!.dispose();
        v.get(name)!.dispose();
        m.set(name, next.mn);
        v.set(name, next.vn);
      }
      param.zeroGrad();
    }
  });
}

interface StepSample {
  /** Synchronous host time of the step: recording plus the submits. */
  hostMs: number;
  /** Of which inside `queue.submit` (Dawn's backend; on llvmpipe's GL backend it runs the kernels too). */
  submitMs: number;
  dispatches: number;
  bindGroups: number;
  buffersCreated: number;
  loss: number;
}

/** One training step; host time counts the synchronous parts (recording and submits), not the awaits. */
async function step(
  backend: WebGPUBackend,
  probe: Probe,
  state: { p: Params; m: Params; v: Params; t: number },
  data: { ids: T.Tensor; targets: T.Tensor; mask: T.Tensor },
): Promise<StepSample> {
  const rt = backend.runtime;
  const d0 = rt.stats().dispatches;
  probe.reset();
  let t0 = performance.now();
  const loss = forwardBackward(state.p, data.ids, data.targets, data.mask);
  const norm = gradNorm(state.p);
  const normRead = norm.item(); // flushes synchronously, then waits
  let hostMs = performance.now() - t0;
  const n = await normRead;
  norm.dispose();
  t0 = performance.now();
  state.t++;
  adamw(state.p, state.m, state.v, state.t, n > 1 ? 1 / n : 1);
  const lossRead = loss.item();
  hostMs += performance.now() - t0;
  const value = await lossRead;
  loss.dispose();
  await backend.sync();
  return {
    hostMs,
    submitMs: probe.submitMs,
    dispatches: rt.stats().dispatches - d0,
    bindGroups: probe.bindGroups,
    buffersCreated: probe.buffersCreated,
    loss: value,
  };
}

async function run(timed: boolean): Promise<{ samples: StepSample[]; split: Map<Category, number> }> {
  const opened = await requestNodeGpuDevice();
  // One submit per segment by default: on llvmpipe an earlier batch would otherwise run on the same
  // CPUs while the next one is recorded. HOST_MAX_BATCH=512 is the runtime's default (the H100 e2e).
  const backend = new WebGPUBackend(opened.device, { poison: false, maxBatchDispatches: cfg.maxBatch });
  const probe = installProbe(backend.runtime, timed);
  const p = buildParams(backend);
  const zerosOf = () => new Map([...p].map(([k, t]) => [k, T.zerosLike(t)]));
  const state = { p, m: zerosOf(), v: zerosOf(), t: 0 };
  const { batch, seq, vocab } = cfg;
  const idList = Array.from({ length: batch * seq }, (_, i) => (i * 7 + 3) % vocab);
  const ids = T.tensor(idList, { shape: [batch, seq], dtype: 'i32', backend });
  const targets = T.tensor(
    idList.map((t) => (t * 5 + 1) % vocab),
    { shape: [batch, seq], dtype: 'i32', backend },
  );
  const causal = Array.from({ length: seq * seq }, (_, i) => (i % seq > Math.floor(i / seq) ? -1e9 : 0));
  const mask = T.tensor(causal, { shape: [seq, seq], backend });
  const data = { ids, targets, mask };
  await backend.sync();
  const samples: StepSample[] = [];
  const split = new Map<Category, number>();
  for (let s = 0; s < cfg.steps; s++) {
    const sample = await step(backend, probe, state, data);
    samples.push(sample);
    if (s >= cfg.warmup) for (const [k, ms] of probe.ms) split.set(k, (split.get(k) ?? 0) + ms);
  }
  for (const t of [...state.p.values(), ...state.m.values(), ...state.v.values(), ids, targets, mask])
    t.dispose();
  await backend.sync();
  const live = backend.liveBuffers();
  if (live !== 0) throw new Error(`host-recording bench leaked ${live} buffers`);
  backend.destroy();
  opened.device.destroy();
  return { samples, split };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const perDispatch = (ms: number, dispatches: number): string => ((ms * 1000) / dispatches).toFixed(1);

async function main(): Promise<void> {
  console.log(`host recording bench: ${JSON.stringify(cfg)}`);
  const plain = await run(false);
  // The timed pass only splits the time; skip it for a profile of the plain steps.
  const timed =
    process.env.HOST_SPLIT === '0' ? { samples: [], split: new Map<Category, number>() } : await run(true);
  const measured = plain.samples.slice(cfg.warmup);
  const dispatches = measured[0]!.dispatches;
  const recordPerStep = measured.map((s) => ((s.hostMs - s.submitMs) * 1000) / s.dispatches);
  const recordUs = median(recordPerStep);
  const recordMinUs = Math.min(...recordPerStep);
  const submitUs = median(measured.map((s) => (s.submitMs * 1000) / s.dispatches));
  const bindGroupsPerStep = median(measured.map((s) => s.bindGroups));
  console.log('step  dispatches  record ms  µs/dispatch  submit ms  new bind groups  new buffers  loss');
  for (const [i, s] of plain.samples.entries())
    console.log(
      `${String(i + 1).padStart(4)}  ${String(s.dispatches).padStart(10)}  ${(s.hostMs - s.submitMs).toFixed(1).padStart(9)}  ` +
        `${perDispatch(s.hostMs - s.submitMs, s.dispatches).padStart(11)}  ${s.submitMs.toFixed(1).padStart(9)}  ` +
        `${String(s.bindGroups).padStart(15)}  ${String(s.buffersCreated).padStart(11)}  ${s.loss.toFixed(4)}`,
    );
  const timedMeasured = timed.samples.slice(cfg.warmup);
  const timedDispatches = Math.max(
    1,
    timedMeasured.reduce((a, s) => a + s.dispatches, 0),
  );
  const timedHostMs = timedMeasured.reduce((a, s) => a + s.hostMs, 0);
  const timedSubmitMs = timedMeasured.reduce((a, s) => a + s.submitMs, 0);
  const timedRecordMs = timedHostMs - timedSubmitMs;
  // Shares are of the recording (host time outside queue.submit), like the headline number.
  const rows = [...timed.split].filter(([k]) => k !== 'submit (Dawn backend)').sort((a, b) => b[1] - a[1]);
  const accounted = rows.reduce((a, [, ms]) => a + ms, 0);
  rows.push(['JS op overhead (ops, autograd, launchers)' as Category, timedRecordMs - accounted]);
  console.log(
    `\nsplit of the recording (timed pass, steps ${cfg.warmup + 1}-${cfg.steps}): ${perDispatch(timedRecordMs, timedDispatches)} µs/dispatch with timers; submit ${perDispatch(timedSubmitMs, timedDispatches)} µs/dispatch besides`,
  );
  for (const [k, ms] of rows)
    console.log(
      `  ${k.padEnd(42)} ${((ms * 1000) / timedDispatches).toFixed(2).padStart(7)} µs/dispatch  ${((100 * ms) / timedRecordMs).toFixed(1).padStart(5)} %`,
    );
  console.log(
    `\nsummary: ${dispatches} dispatches/step; recording ${recordUs.toFixed(1)} µs/dispatch (min ${recordMinUs.toFixed(1)}), submit ${submitUs.toFixed(1)} µs/dispatch ` +
      `(medians of steps ${cfg.warmup + 1}-${cfg.steps}); ${bindGroupsPerStep} new bind groups/step ` +
      `(${((100 * bindGroupsPerStep) / dispatches).toFixed(1)} % of dispatches)`,
  );
  const out = process.env.HOST_OUT;
  if (out)
    writeFileSync(
      out,
      `${JSON.stringify(
        {
          cfg,
          date: new Date().toISOString(),
          recordUsPerDispatch: recordUs,
          recordMinUsPerDispatch: recordMinUs,
          submitUsPerDispatch: submitUs,
          dispatchesPerStep: dispatches,
          bindGroupsPerStep,
          steps: plain.samples,
          splitUsPerDispatch: Object.fromEntries(rows.map(([k, ms]) => [k, (ms * 1000) / timedDispatches])),
        },
        null,
        2,
      )}\n`,
    );
}

await main();
