import type { BackendBuffer, ReduceOp, View } from '../backend.js';
import { cpuData, finishF16, viewOffsets } from './buffer.js';

/** Reduces the last `reduceRank` dims of a strided view (sums accumulate in f64). */
export function reduce(op: ReduceOp, x: View, reduceRank: number, out: BackendBuffer): void {
  const rank = x.shape.length;
  const keep = rank - reduceRank;
  const outer = { shape: x.shape.slice(0, keep), strides: x.strides.slice(0, keep), offset: x.offset };
  const inner = { shape: x.shape.slice(keep), strides: x.strides.slice(keep), offset: 0 };
  const oo = viewOffsets(outer);
  const io = viewOffsets(inner);
  const src = cpuData(x.buffer);
  const dst = cpuData(out);
  for (let i = 0; i < oo.length; i++) {
    const base = oo[i]!;
    if (op === 'sum') {
      let s = 0;
      for (let j = 0; j < io.length; j++) s += src[base + io[j]!]!;
      dst[i] = s;
    } else if (op === 'max' || op === 'min') {
      let m = op === 'max' ? -Infinity : Infinity;
      for (let j = 0; j < io.length; j++) {
        const v = src[base + io[j]!]!;
        if (Number.isNaN(v)) {
          m = v;
          break;
        }
        if (op === 'max' ? v > m : v < m) m = v;
      }
      dst[i] = m;
    } else {
      let best = 0;
      let bv = src[base + io[0]!]!;
      for (let j = 1; j < io.length; j++) {
        const v = src[base + io[j]!]!;
        if (op === 'argmax' ? v > bv : v < bv) {
          bv = v;
          best = j;
        }
      }
      dst[i] = best;
    }
  }
  finishF16(out, oo.length);
}
