import type { RecallAnswer } from './training/recall.js';
import type { RunConfig } from './training/run-config.js';
import type { StepMetrics } from './training/training-run.js';

export type PageStatus = 'starting' | 'ready' | 'training' | 'done' | 'stopped' | 'error';

/**
 * What the page has done, in exact numbers, on `window.playground`. The
 * browser test reads it (the DOM shows rounded values); it is also handy in
 * the devtools console. Read-only from the outside: the page only reports.
 */
export interface PlaygroundProbe {
  status: PageStatus;
  error: string | null;
  /** The adapter, e.g. "nvidia / ampere". */
  gpu: string | null;
  gpuFeatures: readonly string[];
  backend: string | null;
  config: RunConfig | null;
  /** Training runs started on this page (the test waits for it to grow). */
  runCount: number;
  history: StepMetrics[];
  /** Answers to the prompt box, refreshed during training and on each Recall click. */
  recall: RecallAnswer[] | null;
  /** How many times the prompt was answered (the test waits for it to grow). */
  recallCount: number;
}

declare global {
  interface Window {
    playground: PlaygroundProbe;
  }
}

export function installProbe(): PlaygroundProbe {
  const probe: PlaygroundProbe = {
    status: 'starting',
    error: null,
    gpu: null,
    gpuFeatures: [],
    backend: null,
    config: null,
    runCount: 0,
    history: [],
    recall: null,
    recallCount: 0,
  };
  window.playground = probe;
  return probe;
}

/** Sets the status on the probe and on `<body data-status>` (for CSS and waits). */
export function setStatus(probe: PlaygroundProbe, status: PageStatus, error: string | null = null): void {
  probe.status = status;
  probe.error = error;
  document.body.dataset['status'] = status;
}
