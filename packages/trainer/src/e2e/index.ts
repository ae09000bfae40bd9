export { E2E_DEFAULTS, type E2eMode, type E2eOptions, type E2eVariant, e2eProblems } from './options.js';
export { type E2eFailure, E2eOptionsError, type E2eReport, runE2eBenchmark } from './run.js';
export { E2E_PEAK, type E2eRow, e2eRowLine } from './step-loop.js';
export { runTorchTwin, torchTwinEnv, torchTwinScript } from './torch-twin.js';
