/** Test helpers shared by every package: the three-way op check and seeded test data. */
export { type CheckOpOptions, type CheckOpReport, checkOp, type InputSpec, testRng } from './check-op.js';
