import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Context, Effect, Layer } from 'effect';
import { writeFileAtomic } from '../checkpoint/files.js';
import { recordLine, trainLine } from './progress-line.js';
import type { MetricRecord } from './records.js';

/** Where run metrics go: the live progress line, the JSONL log, tests' arrays. */
export interface MetricsSinkShape {
  write(record: MetricRecord): Effect.Effect<void>;
}

/** The metrics sink service (one or more sinks fanned out). */
export class MetricsSink extends Context.Service<MetricsSink, MetricsSinkShape>()(
  '@dynconv/trainer/MetricsSink',
) {
  /** A layer writing every record to all `sinks`, in order. */
  static readonly layer = (...sinks: readonly MetricsSinkShape[]): Layer.Layer<MetricsSink> =>
    Layer.succeed(MetricsSink, fanOut(sinks));
}

export const fanOut = (sinks: readonly MetricsSinkShape[]): MetricsSinkShape => ({
  write: (record) => Effect.forEach(sinks, (s) => s.write(record), { discard: true }),
});

/** Appends each record as one JSON line (synchronously, so a killed run loses nothing already reported). */
export function jsonlSink(path: string): MetricsSinkShape {
  mkdirSync(dirname(path), { recursive: true });
  return { write: (record) => Effect.sync(() => appendFileSync(path, `${JSON.stringify(record)}\n`)) };
}

/** Collects records in memory (tests, reports of in-process runs). */
export const memorySink = (out: MetricRecord[]): MetricsSinkShape => ({
  write: (record) =>
    Effect.sync(() => {
      out.push(record);
    }),
});

/** Options of {@link consoleSink}. */
export interface ConsoleSinkOptions {
  readonly totalSteps: number;
  readonly task: 'recall' | 'lm';
  /** Default `process.stderr`. */
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Rewrite one line in place (default: when the stream is a TTY). */
  readonly interactive?: boolean;
}

/**
 * The live progress line: step, loss, lr, tokens/s and ETA. On a terminal the
 * line is rewritten in place and evaluations print above it; elsewhere each
 * record prints as its own line.
 */
export function consoleSink(options: ConsoleSinkOptions): MetricsSinkShape {
  const stream = options.stream ?? process.stderr;
  const interactive = options.interactive ?? Boolean(stream.isTTY);
  let origin: { step: number; elapsedMs: number } | null = null;
  let live = '';
  const etaFor = (step: number, elapsedMs: number): number => {
    if (!origin || step <= origin.step) return Number.NaN;
    return ((options.totalSteps - step) * (elapsedMs - origin.elapsedMs)) / (step - origin.step);
  };
  return {
    write: (record) =>
      Effect.sync(() => {
        if (record.type === 'start') origin = { step: record.fromStep, elapsedMs: 0 };
        if (record.type === 'train' && origin && origin.elapsedMs === 0 && record.step === origin.step + 1) {
          // Time the first step of the session from its end: it includes warm-up costs.
          origin = { step: record.step, elapsedMs: record.elapsedMs };
        }
        const eta = record.type === 'train' ? etaFor(record.step, record.elapsedMs) : Number.NaN;
        if (interactive && record.type === 'train') {
          live = trainLine(record, options.totalSteps, eta);
          stream.write(`\r\x1b[2K${live}`);
          return;
        }
        const line = recordLine(record, options.totalSteps, options.task, eta);
        if (line === null) {
          if (interactive && record.type === 'end' && live) stream.write('\n');
          return;
        }
        stream.write(interactive && live ? `\r\x1b[2K${line}\n${live}` : `${line}\n`);
      }),
  };
}

/**
 * Drops records after `step` from a JSONL log, so a run resumed from that
 * step does not show the interrupted tail twice.
 */
export function truncateJsonlAfter(path: string, step: number): Effect.Effect<void> {
  return Effect.promise(async () => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return;
    }
    const kept = text.split('\n').filter((line) => {
      if (!line.trim()) return false;
      try {
        const r = JSON.parse(line) as { step?: number };
        return (r.step ?? 0) <= step; // 'start' records have no step and stay
      } catch {
        return false; // a line cut by a kill
      }
    });
    await writeFileAtomic(path, kept.length ? `${kept.join('\n')}\n` : '');
  });
}
