/**
 * The WebGPU test files bundled with a vitest stand-in (`vitest-shim.ts`) so
 * they run on the GPU machine (Vulkan) where there is no node_modules:
 *   esbuild bench/device-tests.ts --bundle --alias:vitest=./bench/vitest-shim.ts ...
 * Exit code 1 when a test fails.
 */
import '../test/webgpu-runtime.test.js';
import '../test/webgpu-elementwise.test.js';
import '../test/webgpu-random.test.js';
import '../test/webgpu-reduce.test.js';
import '../test/webgpu-matmul.test.js';
import '../test/webgpu-matmul-variants.test.js';
import '../test/webgpu-nn.test.js';
import '../test/webgpu-profiler.test.js';
import '../test/webgpu-concat.test.js';
import { runAll } from './vitest-shim.js';

// Fresh buffers are poisoned, as under vitest (the tests check that unwritten memory shows).
process.env.DYNCONV_TEST ??= '1';
// DEVICE_TESTS_FILTER=<regex> runs the matching tests only (device time is scarce).
const filter = process.env.DEVICE_TESTS_FILTER;
process.exitCode = (await runAll(filter ? new RegExp(filter) : undefined)) > 0 ? 1 : 0;
