/**
 * The fused-layer WebGPU tests (`test/fused.test.ts`) bundled with the tensor
 * package's vitest stand-in, to run on the GPU machine (no node_modules):
 *   esbuild packages/layers/bench/device-tests.ts --bundle --platform=node --format=esm --external:webgpu \
 *     --conditions=@dynconv/source --alias:vitest=packages/tensor/bench/vitest-shim.ts --outfile=DIR/fused-tests.mjs
 * Exit code 1 when a test fails.
 */
import '../test/fused.test.js';
import '../test/norm.test.js';
import { runAll } from '../../tensor/bench/vitest-shim.js';

process.exitCode = (await runAll()) > 0 ? 1 : 0;
