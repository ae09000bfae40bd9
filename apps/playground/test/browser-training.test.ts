import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CpuBackend } from '@dynconv/tensor';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { VARIANTS } from '../src/model/variants.js';
import type { PlaygroundProbe } from '../src/probe.js';
import type { RunConfig } from '../src/training/run-config.js';
import { type StepMetrics, TrainingRun } from '../src/training/training-run.js';
import { APP_ROOT, type BuiltPage, buildPage } from './harness/build-page.js';
import { type ChromiumLookup, ensureChromium } from './harness/ensure-chromium.js';
import { type LaunchedChromium, launchChromium } from './harness/launch-chromium.js';
import { type StaticServer, serveDirectory } from './harness/static-server.js';

/**
 * The built page, served over real HTTP, trains each architecture variant on
 * MQAR in headless Chromium whose WebGPU runs on SwiftShader, driven like a
 * user would: pick the variant, press Train, press Recall. The browser's
 * losses must fall and agree with the same run (same config and seed)
 * computed here in Node on the CPU reference backend.
 */

const SEED = 3;
const STEPS = 12;
/** Budget for the page's shipped JavaScript after gzip. */
const GZIP_JS_BUDGET = 150 * 1024;
/** Losses are f32 sums over a few hundred logits: agreement to ~1e-6 is typical, 2e-3 leaves room for other GPUs. */
const LOSS_TOLERANCE = 2e-3;
const SCREENSHOTS = join(APP_ROOT, 'test-results');

let chromium: ChromiumLookup;
let built: BuiltPage;
let server: StaticServer;
let browser: LaunchedChromium | null = null;
/** One tab for every variant, as a user would use it; compiled GPU pipelines are shared between runs. */
let tab: Page | null = null;
const pageErrors: string[] = [];
const consoleLines: string[] = [];

beforeAll(async () => {
  [chromium, built] = await Promise.all([ensureChromium(), buildPage()]);
  server = await serveDirectory(built.outDir);
  if (!('path' in chromium)) return;
  browser = await launchChromium(chromium.path);
  tab = await browser.context.newPage();
  tab.on('pageerror', (error) => pageErrors.push(error.message));
  // WGSL compile errors and GPU validation messages land in the console: keep them for failure messages.
  tab.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') consoleLines.push(message.text());
  });
  await tab.goto(`${server.url}/?preset=smoke&seed=${SEED}&steps=${STEPS}`);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (built) await rm(built.outDir, { recursive: true, force: true });
});

describe('playground bundle', () => {
  test('has no Node built-ins and stays within its size budget', async () => {
    const scripts = built.files.filter((f) => f.path.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) {
      const code = await readFile(join(built.outDir, script.path), 'utf8');
      expect(code, `${script.path} imports a Node built-in`).not.toMatch(
        /\bfrom\s*["']node:|\bimport\(\s*["']node:|require\(\s*["']node:/,
      );
    }
    const total = (key: 'bytes' | 'gzipBytes') => scripts.reduce((n, f) => n + f[key], 0);
    console.info(
      `playground bundle: ${built.files.map((f) => `${f.path} ${kib(f.bytes)} (gzip ${kib(f.gzipBytes)})`).join(', ')}; ` +
        `JavaScript ${kib(total('bytes'))}, gzip ${kib(total('gzipBytes'))}`,
    );
    expect(total('gzipBytes')).toBeLessThan(GZIP_JS_BUDGET);
  });
});

describe('playground in headless Chromium (WebGPU on SwiftShader)', () => {
  test('finds a WebGPU adapter and starts on the webgpu backend', async (context) => {
    if (!tab) return context.skip(skipReason());
    const ready = await waitForProbe(
      tab,
      () => ['ready', 'error'].includes(window.playground?.status),
      0,
      60_000,
    );
    expect(ready.error, withConsole('GPU start-up')).toBeNull();
    expect(ready.backend).toBe('webgpu');
    expect(ready.gpu).toBeTruthy();
  });

  for (const variant of VARIANTS) {
    test(`${variant.id}: trains, the loss falls, Node agrees, recall answers`, async (context) => {
      if (!tab) return context.skip(skipReason());
      const before = await tab.evaluate(() => window.playground.runCount);
      await tab.getByLabel('Architecture').selectOption(variant.id);
      await tab.getByRole('button', { name: 'Train' }).click();
      const trained = await waitForProbe(
        tab,
        (runs) =>
          window.playground.runCount > runs &&
          ['done', 'stopped', 'error'].includes(window.playground.status),
        before,
        150_000,
      );
      expect(trained.error, withConsole(`training ${variant.id}`)).toBeNull();
      expect(trained.status).toBe('done');
      expect(trained.config?.variant).toBe(variant.id);
      const losses = trained.history.map((m) => m.loss);
      expect(losses).toHaveLength(STEPS);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(mean(losses.slice(-3))).toBeLessThan(losses[0]! * 0.9);

      const reference = await trainInNode(trained.config!);
      for (let i = 0; i < STEPS; i++) {
        const [b, n] = [trained.history[i]!, reference[i]!];
        expect(Math.abs(b.loss - n.loss), `step ${i + 1}: browser ${b.loss} vs node ${n.loss}`).toBeLessThan(
          LOSS_TOLERANCE * Math.max(1, Math.abs(n.loss)),
        );
        // An argmax may flip on a near tie; a few queries of 32 is all that may differ.
        expect(Math.abs(b.accuracy - n.accuracy), `step ${i + 1} accuracy`).toBeLessThanOrEqual(0.1);
      }
      const gap = Math.max(...reference.map((n, i) => Math.abs(n.loss - losses[i]!)));
      console.info(
        `${variant.id}: browser loss ${losses[0]!.toFixed(4)} → ${losses.at(-1)!.toFixed(4)}, ` +
          `largest gap to Node CPU ${gap.toExponential(2)}; first step ${trained.history[0]!.ms.toFixed(0)} ms ` +
          `(pipeline compiles), then ${mean(trained.history.slice(1).map((m) => m.ms)).toFixed(0)} ms/step`,
      );

      const answered = trained.recallCount;
      await tab.getByRole('button', { name: 'Recall' }).click();
      const recalled = await waitForProbe(
        tab,
        (count) => window.playground.recallCount > count,
        answered,
        30_000,
      );
      expect(recalled.recall).toHaveLength(3);
      await expect.poll(() => tab!.locator('#answers li').count()).toBe(3);

      await mkdir(SCREENSHOTS, { recursive: true });
      await tab.screenshot({ path: join(SCREENSHOTS, `playground-${variant.id}.png`), fullPage: true });
      expect(pageErrors).toEqual([]);
    });
  }
});

/**
 * Waits until `predicate(arg)` holds in the page (Playwright sends its source
 * there, so it may use only `window` and `arg`), then returns `window.playground`.
 */
async function waitForProbe(
  page: Page,
  predicate: (arg: number) => boolean,
  arg: number,
  timeout: number,
): Promise<PlaygroundProbe> {
  await page.waitForFunction(predicate, arg, { timeout, polling: 100 });
  return page.evaluate(() => window.playground);
}

/** The same run on the CPU reference backend; it must free every buffer it made. */
async function trainInNode(config: RunConfig): Promise<StepMetrics[]> {
  const backend = new CpuBackend();
  const run = new TrainingRun(backend, config);
  const history: StepMetrics[] = [];
  try {
    while (!run.finished) history.push(await run.step());
  } finally {
    run.dispose();
  }
  expect(backend.liveBuffers(), 'buffers left after a run').toBe(0);
  return history;
}

const skipReason = (): string => ('skipReason' in chromium ? chromium.skipReason : 'Chromium did not start');
const withConsole = (what: string): string =>
  `${what}\n--- page console ---\n${consoleLines.join('\n').slice(0, 4000)}`;
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
