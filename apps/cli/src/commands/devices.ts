import { describeDevices } from '@dynconv/trainer';
import { Effect } from 'effect';
import { Command, Flag } from 'effect/cli';
import { println } from '../output.js';

/** `dynconv devices` */
export const devicesCommand = Command.make(
  'devices',
  {
    json: Flag.Boolean('json').pipe(
      Flag.withDescription('Print the report as JSON'),
      Flag.withDefault(false),
    ),
  },
  (f) =>
    Effect.gen(function* () {
      const r = yield* describeDevices();
      if (f.json) return yield* println(JSON.stringify(r, null, 2));
      yield* println(`cpu: ${r.cpu.model}, ${r.cpu.cores} cores, ${r.cpu.memoryGiB} GiB`);
      if (!r.webgpu.available) {
        yield* println(`webgpu: not available (${r.webgpu.reason})`);
      } else {
        const w = r.webgpu;
        yield* println(`webgpu adapter: ${w.description}`);
        yield* println(`  backend: ${w.backend} (${w.hardware ? 'hardware GPU' : 'software rasterizer'})`);
        yield* println(
          `  vendor: ${w.adapter.vendor || '-'}  architecture: ${w.adapter.architecture || '-'}  device: ${w.adapter.device || '-'}`,
        );
        yield* println(`  features: ${w.features.length ? w.features.join(', ') : '(none)'}`);
        yield* println('  limits:');
        for (const [k, v] of Object.entries(w.limits)) yield* println(`    ${k.padEnd(36)} ${v}`);
      }
      yield* println(`device auto -> ${r.autoPicks}`);
    }),
).pipe(
  Command.withDescription(
    'Print the WebGPU adapter, backend, features and limits, the CPU, and what --device auto picks.',
  ),
);
