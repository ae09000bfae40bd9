/**
 * @dynconv/trainer — training runs as Effect services: device, data, model
 * (from the architecture registry), optimizer, checkpoint store and metrics
 * sinks, each a Layer that tests can swap.
 */

export { type BenchRequest, type BenchResult, benchmark } from './bench.js';
export {
  BEST_FILE,
  CheckpointStore,
  type CheckpointStoreShape,
  makeCheckpointStore,
  type RetentionOptions,
} from './checkpoint/CheckpointStore.js';
export {
  type CheckpointContent,
  type LoadedCheckpoint,
  listCheckpoints,
  readCheckpoint,
  resolveCheckpointPath,
  writeCheckpoint,
} from './checkpoint/checkpoint-io.js';
export {
  type BestPointer,
  type CheckpointState,
  checkpointName,
  MANIFEST_FILE,
  MODEL_FILE,
  OPTIMIZER_FILE,
  STATE_FILE,
} from './checkpoint/format.js';
export { type CheckpointModel, openCheckpointModel } from './checkpoint/open-model.js';
export { decodeTensorFile, encodeTensorFile, type HostTensor } from './checkpoint/tensor-file.js';
export { type ConfigSources, loadRawConfig, readConfigFile } from './config/load.js';
export { deepMerge, type Override, parseOverride, setPath } from './config/overrides.js';
export {
  DEFAULT_PRESET,
  PRESETS,
  type Preset,
  type PresetEnvironment,
  presetConfig,
} from './config/presets.js';
export {
  crossFieldProblems,
  decodeAll,
  formatPath,
  type ResolvedConfig,
  resolveConfig,
  resolvedJson,
} from './config/resolve.js';
export { type DataConfig, type OptimizerConfig, RunConfig, type ScheduleConfig } from './config/schema.js';
export {
  type FromSourcesOptions,
  type TrainBatch,
  TrainData,
  type TrainDataShape,
} from './data/TrainData.js';
export { acquireDevice, Device, type DeviceChoice, type DeviceShape } from './device/Device.js';
export { describeAdapter, isSoftwareAdapter } from './device/webgpu.js';
export { type DeviceReport, describeDevices } from './devices.js';
export {
  E2E_DEFAULTS,
  E2E_PEAK,
  type E2eFailure,
  type E2eMode,
  type E2eOptions,
  E2eOptionsError,
  type E2eReport,
  type E2eRow,
  type E2eVariant,
  e2eProblems,
  e2eRowLine,
  runE2eBenchmark,
  runTorchTwin,
  torchTwinScript,
} from './e2e/index.js';
export * from './errors.js';
export { type CheckpointEval, evaluateCheckpoint } from './eval.js';
export {
  corpusTokenizer,
  type GenerateRequest,
  type Generation,
  generateFromCheckpoint,
  type IdGeneration,
  type RecallDemo,
  type TextGeneration,
} from './generate/generate.js';
export {
  type ConsoleSinkOptions,
  consoleSink,
  fanOut,
  jsonlSink,
  MetricsSink,
  type MetricsSinkShape,
  memorySink,
  truncateJsonlAfter,
} from './metrics/MetricsSink.js';
export { formatCount, formatDuration } from './metrics/progress-line.js';
export type * from './metrics/records.js';
export { Architectures, type ArchitecturesShape } from './model/Architectures.js';
export { buildModel, Model, type ModelShape } from './model/Model.js';
export type { ArchitectureV1, DecodeState, ModelInput, ModelV1 } from './model/spec.js';
export {
  AdamW,
  type AdamWOptions,
  type AdamWState,
  type AdamWUpdate,
  composedAdamWUpdate,
} from './optim/adamw.js';
export { clipScale, globalGradNorm, scaleGradients } from './optim/clip.js';
export { Optimizer, type OptimizerShape } from './optim/Optimizer.js';
export { type ParamGroup, paramGroups } from './optim/param-groups.js';
export { learningRate } from './optim/schedule.js';
export { type PrepareRequest, prepareCorpus } from './prepare.js';
export { type RunSummary, renderReport, summarize } from './report/html.js';
export { type RunData, readRun } from './report/read-run.js';
export { lineChart, type Series } from './report/svg.js';
export { writeReport } from './report/write-report.js';
export { runTraining, type TrainRequest } from './run.js';
export { executeStudyPlan, type StudyBackend } from './studies/common/execute-plan.js';
export { planFromRuns, type StudyRun } from './studies/common/study-plan.js';
export { DTR_SIZES, DtrStudyConfig } from './studies/dtr/config.js';
export { type GreedyResult, greedyReplacement, randomLayers, uniformLayers } from './studies/dtr/greedy.js';
export { type DtrOptions, type DtrResult, runDtr } from './studies/dtr/study.js';
export { MQAR_SIZES, MqarStudyConfig } from './studies/mqar/config.js';
export { type MqarStudyOptions, type MqarStudyResult, runMqarStudy } from './studies/mqar/study.js';
export { PREPROJ_SIZES, PreprojStudyConfig } from './studies/preproj/config.js';
export { LoraAdapters } from './studies/preproj/lora.js';
export {
  type PreprojStudyOptions,
  type PreprojStudyResult,
  runPreprojStudy,
} from './studies/preproj/study.js';
export {
  bootstrapMultiplier,
  fitSharedMultiplier,
  type LadderRun,
  type MultiplierWithInterval,
  multiplierAtCompute,
} from './studies/scaling/compute-multiplier.js';
export { SCALING_SIZES, ScalingStudyConfig } from './studies/scaling/config.js';
export {
  computeForLoss,
  fitScalingLaw,
  logResiduals,
  predictLoss,
  type ScalingFitOptions,
  type ScalingLawFit,
  type ScalingPoint,
} from './studies/scaling/power-law-fit.js';
export {
  runScalingStudy,
  type ScalingStudyOptions,
  type ScalingStudyResult,
} from './studies/scaling/study.js';
// Research workflows (issue 8): sweeps (local SQLite queue, effect/cluster runners) and studies.
export { canonicalJson as canonicalRunJson } from './sweep/canonical-json.js';
export { ChildProcessExecutor, type ChildProcessExecutorOptions } from './sweep/child-process-executor.js';
export {
  type ClusterTuning,
  clientClusterLayer,
  runnerClusterLayer,
  sweepClusterDefaults,
} from './sweep/cluster/cluster-layers.js';
export { launchSweepRunner, type SweepRunnerOptions, sweepRunnerLayer } from './sweep/cluster/runner.js';
export { type ClusterSubmitOptions, submitSweep } from './sweep/cluster/submit.js';
export { CompletedRunSchema, RunFailed, SweepRunWorkflow } from './sweep/cluster/sweep-workflow.js';
export type { RunContext as SweepRunContext, RunExecutor, RunOutcome } from './sweep/executor.js';
export { makeExecutor } from './sweep/executor-factory.js';
export {
  decodeGridFile,
  ExecutorSpec,
  expandGrid,
  GridError,
  GridFile,
  loadGridFile,
  type PlannedRun,
  type SweepPlan,
} from './sweep/grid.js';
export {
  type LocalSweepOptions,
  runLocalSweep,
  type SweepEvent,
  type SweepSummary,
} from './sweep/local-sweep.js';
export { type SweepResultRow, sweepMarkdownTable, writeJsonl } from './sweep/results.js';
export { runIdOf } from './sweep/run-id.js';
export {
  type ClaimedRun,
  makeOwnerId,
  type RunStatus,
  type StoredRun,
  SweepStore,
} from './sweep/sqlite-store.js';
export {
  defaultSweepDir,
  describeSweepEvent,
  type LocalSweepFileOptions,
  rowsFromStore,
  runSweepFile,
  writeSweepResults,
} from './sweep/sweep-main.js';
export { TRAIN_DIR, type TrainerExecutorOptions, trainerExecutor } from './sweep/trainer-executor.js';
export { outcomeFromMetrics, TrainerProcessExecutor } from './sweep/trainer-process-executor.js';
export { type EvalResult, evaluate } from './train/evaluate.js';
export { type TrainerLayers, trainerLayer } from './train/layers.js';
export { RunContext, type RunContextShape } from './train/RunContext.js';
export { CONFIG_FILE, METRICS_FILE } from './train/run-dir.js';
export { type StepOutcome, trainStep } from './train/step.js';
export { type TrainOptions, type TrainSummary, train } from './train/Trainer.js';
