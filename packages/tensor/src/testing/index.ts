/** Test helpers shared by every package: the three-way op check, seeded test data, dispatch capture. */
export { type CheckOpOptions, type CheckOpReport, checkOp, type InputSpec, testRng } from './check-op.js';
export { dispatchedKeys } from './dispatched-keys.js';
