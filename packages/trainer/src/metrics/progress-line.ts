import type { EvalRecord, MetricRecord, TrainRecord } from './records.js';

/** `1h02m`, `3m05s`, `42s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** `950`, `12.3k`, `4.56M`. */
export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/** The live line for a train record: step, loss, lr, throughput and ETA. */
export function trainLine(r: TrainRecord, totalSteps: number, etaMs: number): string {
  const width = String(totalSteps).length;
  return [
    `step ${String(r.step).padStart(width)}/${totalSteps}`,
    `loss ${r.loss.toFixed(4)}`,
    `lr ${r.lr.toExponential(2)}`,
    `${formatCount(r.tokensPerSec)} tok/s`,
    `ETA ${formatDuration(etaMs)}`,
  ].join(' | ');
}

export function evalLine(r: EvalRecord, task: 'recall' | 'lm'): string {
  const acc = `${task === 'recall' ? 'recall acc' : 'token acc'} ${(100 * r.accuracy).toFixed(1)}%`;
  return `eval @ step ${r.step} | loss ${r.loss.toFixed(4)} | ppl ${r.perplexity.toFixed(2)} | ${acc}`;
}

/** A one-line rendering of any record for non-interactive logs. */
export function recordLine(
  r: MetricRecord,
  totalSteps: number,
  task: 'recall' | 'lm',
  etaMs: number,
): string | null {
  switch (r.type) {
    case 'train':
      return trainLine(r, totalSteps, etaMs);
    case 'eval':
      return evalLine(r, task);
    case 'skip':
      return `step ${r.step}: non-finite loss/gradient (loss ${r.loss}, grad norm ${r.gradNorm}); skipped (${r.consecutive} in a row, ${r.skipped} total)`;
    case 'checkpoint':
      return `checkpoint @ step ${r.step} -> ${r.path}`;
    case 'end':
      return r.reason === 'interrupted' ? `interrupted at step ${r.step}; checkpoint written` : null;
    default:
      return null;
  }
}
