// A small deterministic "training run" for sweep tests, following the
// child-process protocol of ChildProcessExecutor: reads $DYNCONV_RUN_CONFIG,
// works for `config.workMs`, writes $DYNCONV_RUN_DIR/result.json.
// Every start and finish is appended to `config.ledger`, so a test can count
// how often each run really executed.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const config = JSON.parse(readFileSync(process.env.DYNCONV_RUN_CONFIG, 'utf8'));
const runId = process.env.DYNCONV_RUN_ID;
const record = (event) =>
  appendFileSync(
    config.ledger,
    `${JSON.stringify({ runId, event, pid: process.pid, attempt: Number(process.env.DYNCONV_RUN_ATTEMPT) })}\n`,
  );

record('start');
if (config.failTimes !== undefined && Number(process.env.DYNCONV_RUN_ATTEMPT) <= config.failTimes) {
  console.error(`planned failure on attempt ${process.env.DYNCONV_RUN_ATTEMPT}`);
  process.exit(3);
}
// A quadratic bowl in log(lr), deterministic per config.
const loss = 2 + (Math.log10(config.optimizer.lr) + 3) ** 2 + 0.01 * config.seed;
const steps = 5;
for (let step = 1; step <= steps; step++) {
  await new Promise((resolve) => setTimeout(resolve, config.workMs / steps));
  console.log(`step ${step}/${steps}`);
}
writeFileSync(join(process.env.DYNCONV_RUN_DIR, 'result.json'), JSON.stringify({ metrics: { loss, steps } }));
record('end');
process.exit(0);
