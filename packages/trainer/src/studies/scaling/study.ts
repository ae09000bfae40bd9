import { join, resolve } from 'node:path';
import { readManifest } from '@dynconv/data';
import type { ExecutorSpec } from '../../sweep/grid.js';
import { writeJsonl } from '../../sweep/results.js';
import { executeStudyPlan, type StudyBackend } from '../common/execute-plan.js';
import { studyStartedAt } from '../common/started-at.js';
import { resolveStudyConfig } from '../common/study-config-file.js';
import { planFromRuns } from '../common/study-plan.js';
import { writeReport } from '../report/html-report.js';
import { analyzeLadder, type LadderPoint, ladderPoints, type ScalingAnalysis } from './analyze.js';
import { SCALING_SIZES, ScalingStudyConfig } from './config.js';
import { scalingReport } from './report.js';
import { scalingRuns } from './runs.js';

export interface ScalingStudyOptions {
  /** Prepared corpus folder (`dynconv prepare`). */
  readonly corpus: string;
  readonly size?: string;
  readonly configFile?: string;
  readonly outDir?: string;
  readonly backend?: StudyBackend;
  /** How each run executes (default in-process `trainer`; `trainer-process` to run several at once). */
  readonly executor?: ExecutorSpec;
  readonly log?: (line: string) => void;
  readonly command?: string;
}

export interface ScalingStudyResult {
  readonly config: ScalingStudyConfig;
  readonly points: readonly LadderPoint[];
  readonly analysis: ScalingAnalysis;
  readonly reportPath: string;
  readonly resultsPath: string;
  readonly summaryPath: string;
}

/**
 * The LM ablation and scaling study (method.md §6, §8.3): a ladder of sizes
 * per architecture at a fixed tokens-per-parameter ratio, honest FLOPs per
 * architecture, a robust L(C) fit per architecture and each variant's compute
 * multiplier over its baseline with a bootstrap CI. Resumable like a sweep.
 */
export const runScalingStudy = async (options: ScalingStudyOptions): Promise<ScalingStudyResult> => {
  const sizes = Object.fromEntries(
    Object.entries(SCALING_SIZES).map(([k, v]) => [k, { ...v, corpus: resolve(options.corpus) }]),
  ) as Record<string, ScalingStudyConfig>;
  const config = resolveStudyConfig(ScalingStudyConfig, sizes, options);
  const outDir = options.outDir ?? join('runs', 'studies', config.name);
  const log = options.log ?? ((line: string) => console.log(line));
  const started = studyStartedAt(outDir);
  const manifest = await readManifest(config.corpus);
  const plan = planFromRuns(
    config.name,
    scalingRuns(config, manifest.tokenizer.vocabSize),
    options.executor ? { executor: options.executor } : {},
  );
  const rows = await executeStudyPlan(plan, outDir, options.backend ?? { kind: 'local' }, log);
  const points = ladderPoints(rows);
  const analysis = analyzeLadder(config.variants, points, { samples: config.bootstrapSamples });
  const summaryPath = join(outDir, 'summary.jsonl');
  writeJsonl(summaryPath, [
    ...analysis.fits.map((f) => ({ kind: 'fit', variant: f.variant, fit: f.fit, problem: f.problem })),
    ...analysis.multipliers.map((m) => ({
      kind: 'multiplier',
      variant: m.variant,
      baseline: m.baseline,
      problem: m.problem,
      ...(m.result
        ? {
            multiplier: m.result.multiplier,
            lower: m.result.lower,
            upper: m.result.upper,
            atMaxCompute: m.result.atMaxCompute,
            confidence: m.result.confidence,
            method: m.result.method,
            replicates: m.result.replicates,
          }
        : {}),
    })),
  ]);
  const reportPath = join(outDir, 'report.html');
  writeReport(
    reportPath,
    scalingReport(config, points, analysis, {
      command:
        options.command ??
        `dynconv study scaling --corpus ${options.corpus} --size ${options.size ?? 'tiny'}`,
      started: started.toISOString(),
      finished: new Date().toISOString(),
      corpus: `${config.corpus} (${manifest.tokens} tokens, ${manifest.tokenizer.id}, vocabulary ${manifest.tokenizer.vocabSize})`,
      runs: String(rows.length),
      protocol: 'method.md §6 (scaling laws), §8.3 (small-scale targets)',
    }),
  );
  log(`report: ${reportPath}`);
  return { config, points, analysis, reportPath, resultsPath: join(outDir, 'results.jsonl'), summaryPath };
};
