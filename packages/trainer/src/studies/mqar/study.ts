import { join } from 'node:path';
import type { ExecutorSpec } from '../../sweep/grid.js';
import { writeJsonl } from '../../sweep/results.js';
import { executeStudyPlan, type StudyBackend } from '../common/execute-plan.js';
import { studyStartedAt } from '../common/started-at.js';
import { resolveStudyConfig } from '../common/study-config-file.js';
import { planFromRuns } from '../common/study-plan.js';
import { writeReport } from '../report/html-report.js';
import { aggregateMqar, type MqarCell } from './aggregate.js';
import { MQAR_SIZES, MqarStudyConfig } from './config.js';
import { mqarReport } from './report.js';
import { mqarRuns } from './runs.js';

export interface MqarStudyOptions {
  /** `tiny` (default), `cpu`, `h100`. */
  readonly size?: string;
  /** JSON file overriding the size's settings. */
  readonly configFile?: string;
  /** Default `runs/studies/<name>`. */
  readonly outDir?: string;
  readonly backend?: StudyBackend;
  /** How each run executes (default in-process `trainer`; `trainer-process` to run several at once). */
  readonly executor?: ExecutorSpec;
  readonly log?: (line: string) => void;
  /** Recorded in the report (the command line that produced it). */
  readonly command?: string;
}

/** What `dynconv study mqar` produced. */
export interface MqarStudyResult {
  readonly config: MqarStudyConfig;
  readonly cells: readonly MqarCell[];
  readonly reportPath: string;
  readonly resultsPath: string;
  readonly summaryPath: string;
}

/**
 * The MQAR study (method.md §5, §8.2): none vs static-QKV vs dynamic-QKV
 * (low-rank, head-wise) over d_model × sequence length × key count, on
 * standard, compositional and variable-length-key MQAR, best of a small LR
 * sweep. Runs are a resumable sweep; writes `report.html` (+ `report.md`),
 * `results.jsonl` (every run) and `summary.jsonl` (the table cells).
 */
export const runMqarStudy = async (options: MqarStudyOptions = {}): Promise<MqarStudyResult> => {
  const config = resolveStudyConfig(MqarStudyConfig, MQAR_SIZES, options);
  const outDir = options.outDir ?? join('runs', 'studies', config.name);
  const log = options.log ?? ((line: string) => console.log(line));
  const started = studyStartedAt(outDir);
  const plan = planFromRuns(
    config.name,
    mqarRuns(config),
    options.executor ? { executor: options.executor } : {},
  );
  const rows = await executeStudyPlan(plan, outDir, options.backend ?? { kind: 'local' }, log);
  const cells = aggregateMqar(rows);
  const summaryPath = join(outDir, 'summary.jsonl');
  writeJsonl(summaryPath, cells);
  const reportPath = join(outDir, 'report.html');
  writeReport(
    reportPath,
    mqarReport(config, cells, {
      command: options.command ?? `dynconv study mqar --size ${options.size ?? 'tiny'}`,
      started: started.toISOString(),
      finished: new Date().toISOString(),
      runs: String(rows.length),
      protocol: 'method.md §5 (MQAR), §8.2 (small-scale targets)',
    }),
  );
  log(`report: ${reportPath}`);
  return { config, cells, reportPath, resultsPath: join(outDir, 'results.jsonl'), summaryPath };
};
