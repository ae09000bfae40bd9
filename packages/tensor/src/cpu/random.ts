import type { BackendBuffer, RandomKind } from '../backend.js';
import { bitsToUniform, bitsToUniformOpen, philox4x32 } from '../random/philox.js';
import { cpuData, finishF16 } from './buffer.js';

export function random(
  out: BackendBuffer,
  length: number,
  kind: RandomKind,
  seed: readonly [number, number],
  offset: number,
): void {
  const O = cpuData(out);
  const words = new Uint32Array(4);
  for (let c = 0; c * 4 < length; c++) {
    philox4x32(offset + c, seed, words);
    for (let w = 0; w < 4 && c * 4 + w < length; w++) {
      const i = c * 4 + w;
      if (kind === 'bits') O[i] = words[w]!;
      else if (kind === 'uniform') O[i] = bitsToUniform(words[w]!);
      else {
        const pair = w < 2 ? 0 : 2;
        const radius = Math.sqrt(-2 * Math.log(bitsToUniformOpen(words[pair]!)));
        const angle = 2 * Math.PI * bitsToUniform(words[pair + 1]!);
        O[i] = w % 2 === 0 ? radius * Math.cos(angle) : radius * Math.sin(angle);
      }
    }
  }
  finishF16(out, length);
}
