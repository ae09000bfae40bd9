import type { Backend } from '@dynconv/tensor';
import { createPageBackend } from './gpu/create-page-backend.js';
import { requestGpuDevice } from './gpu/request-gpu-device.js';
import { VARIANTS, variantById } from './model/variants.js';
import { readPageOptions } from './page-options.js';
import { installProbe, setStatus } from './probe.js';
import { encodeRecallPrompt, parseRecallPrompt, sampleRecallPrompt } from './task/recall-prompt.js';
import { SeededRandom } from './task/seeded-random.js';
import { recall } from './training/recall.js';
import { PRESETS, type RunConfig } from './training/run-config.js';
import { TrainingRun } from './training/training-run.js';
import { element, formatPercent } from './ui/dom.js';
import { LineChart } from './ui/line-chart.js';
import { renderRecall } from './ui/recall-view.js';

const probe = installProbe();
const ui = {
  gpuInfo: element('gpu-info', HTMLParagraphElement),
  variant: element('variant', HTMLSelectElement),
  variantDescription: element('variant-description', HTMLParagraphElement),
  layers: element('layers', HTMLInputElement),
  steps: element('steps', HTMLInputElement),
  lr: element('lr', HTMLInputElement),
  seed: element('seed', HTMLInputElement),
  taskInfo: element('task-info', HTMLParagraphElement),
  promptHint: element('prompt-hint', HTMLParagraphElement),
  train: element('train', HTMLButtonElement),
  stop: element('stop', HTMLButtonElement),
  chart: new LineChart(element('chart', HTMLCanvasElement)),
  trainStatus: element('train-status', HTMLParagraphElement),
  prompt: element('prompt', HTMLInputElement),
  recall: element('recall', HTMLButtonElement),
  example: element('example', HTMLButtonElement),
  recallError: element('recall-error', HTMLParagraphElement),
  answers: element('answers', HTMLOListElement),
};

const options = readPageOptions(location.search);
const preset = PRESETS[options.preset];
let backend: Backend | null = null;
let run: TrainingRun | null = null;
let stopRequested = false;
let examples = 0;
/** How often the prompt is re-answered during training. */
const LIVE_RECALL_MS = 2000;

function initialiseForm(): void {
  for (const v of VARIANTS) ui.variant.add(new Option(v.label, v.id));
  ui.variant.value = options.variant ?? VARIANTS[0]!.id;
  variantById(ui.variant.value); // an unknown ?variant= fails loudly here
  const describe = () => {
    ui.variantDescription.textContent = variantById(ui.variant.value).description;
  };
  ui.variant.addEventListener('change', describe);
  describe();
  ui.layers.value = String(preset.model.numLayers);
  ui.steps.value = String(options.steps ?? preset.steps);
  ui.lr.value = String(preset.lr);
  ui.seed.value = String(options.seed ?? preset.seed);
  const { task, model, batchSize } = preset;
  ui.taskInfo.textContent =
    `MQAR: vocabulary ${task.vocabSize}, ${task.seqLen} tokens, ${task.numKvPairs} key-value pairs, batch ${batchSize}. ` +
    `Model: d=${model.dModel}, ${model.numHeads} heads, MLP ${model.mlpHidden}, AdamW.`;
  const half = Math.floor(task.vocabSize / 2);
  ui.promptHint.append(` Keys are 1–${half - 1}, values ${half}–${task.vocabSize - 1}.`);
  ui.prompt.value = sampleRecallPrompt(task, new SeededRandom(preset.seed, 7), task.numKvPairs, 3);
  ui.chart.draw([], Number(ui.steps.value));
}

function formConfig(): RunConfig {
  const positive = (input: HTMLInputElement, name: string, integer: boolean) => {
    const value = Number(input.value);
    if (!(value >= 0) || (integer && !Number.isInteger(value)))
      throw new Error(`${name} must be a non-negative ${integer ? 'integer' : 'number'}`);
    return value;
  };
  return {
    ...preset,
    variant: ui.variant.value,
    model: { ...preset.model, numLayers: Math.max(1, positive(ui.layers, 'Layers', true)) },
    steps: Math.max(1, positive(ui.steps, 'Steps', true)),
    lr: positive(ui.lr, 'Learning rate', false),
    seed: positive(ui.seed, 'Seed', true),
  };
}

async function train(): Promise<void> {
  if (!backend) return;
  let config: RunConfig;
  try {
    config = formConfig();
  } catch (error) {
    ui.trainStatus.textContent = (error as Error).message; // a form mistake, not a page failure
    return;
  }
  run?.dispose();
  run = new TrainingRun(backend, config);
  probe.config = config;
  probe.runCount++;
  probe.history = [];
  probe.recall = null;
  stopRequested = false;
  setStatus(probe, 'training');
  setBusy(true);
  let lastDraw = 0;
  let lastRecall = performance.now();
  while (!run.finished && !stopRequested) {
    const metrics = await run.step();
    probe.history.push(metrics);
    ui.trainStatus.textContent =
      `step ${metrics.step}/${config.steps} · loss ${metrics.loss.toFixed(4)} · ` +
      `accuracy ${formatPercent(metrics.accuracy)} · ${metrics.ms.toFixed(0)} ms/step`;
    if (performance.now() - lastDraw > 100 || run.finished) {
      drawChart(config.steps);
      lastDraw = performance.now();
    }
    // Re-ask the prompt now and then, so recall can be watched while it is being learnt.
    if (performance.now() - lastRecall > LIVE_RECALL_MS) {
      await answerPrompt();
      lastRecall = performance.now();
    }
  }
  drawChart(config.steps);
  await answerPrompt();
  setBusy(false);
  setStatus(probe, stopRequested ? 'stopped' : 'done');
}

function drawChart(steps: number): void {
  const history = probe.history;
  ui.chart.draw(
    [
      {
        label: 'loss',
        color: '#d1495b',
        axis: 'left',
        points: history.map((m) => [m.step, m.loss] as const),
      },
      {
        label: 'accuracy',
        color: '#2456d3',
        axis: 'right',
        points: history.map((m) => [m.step, m.accuracy] as const),
      },
    ],
    steps,
  );
}

async function answerPrompt(): Promise<void> {
  if (!run || !backend) return;
  ui.recallError.textContent = '';
  try {
    const task = run.config.task;
    const prompt = parseRecallPrompt(ui.prompt.value, task);
    const answers = await recall(run.model, backend, encodeRecallPrompt(prompt, task));
    probe.recall = answers;
    probe.recallCount++;
    renderRecall(ui.answers, prompt, answers);
  } catch (error) {
    ui.recallError.textContent = (error as Error).message;
  }
}

function setBusy(training: boolean): void {
  ui.train.disabled = training;
  ui.stop.disabled = !training;
  ui.recall.disabled = run === null;
}

function fail(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  setStatus(probe, 'error', message);
  ui.gpuInfo.textContent = `Error: ${message}`;
  setBusy(false);
  ui.train.disabled = backend === null;
}

async function boot(): Promise<void> {
  initialiseForm();
  const gpu = await requestGpuDevice();
  backend = createPageBackend(gpu);
  probe.gpu = gpu.description;
  probe.gpuFeatures = gpu.features;
  probe.backend = backend.name;
  ui.gpuInfo.textContent = `GPU: ${gpu.description} · backend ${backend.name} · features: ${gpu.features.join(', ') || 'none'}`;
  gpu.device.lost.then((info) => fail(new Error(`GPU device lost (${info.reason}): ${info.message}`)));
  ui.train.disabled = false;
  setStatus(probe, 'ready');
}

ui.train.addEventListener('click', () => void train().catch(fail));
ui.stop.addEventListener('click', () => {
  stopRequested = true;
});
ui.recall.addEventListener('click', () => void answerPrompt());
ui.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !ui.recall.disabled) void answerPrompt();
});
ui.example.addEventListener('click', () => {
  const task = run?.config.task ?? preset.task;
  ui.prompt.value = sampleRecallPrompt(
    task,
    new SeededRandom(preset.seed, 7, ++examples),
    task.numKvPairs,
    3,
  );
});
window.addEventListener('unhandledrejection', (event) => fail(event.reason));
boot().catch(fail);
