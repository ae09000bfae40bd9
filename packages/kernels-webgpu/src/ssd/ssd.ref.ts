import { stack, type Tensor, tidy, zeros } from '@dynconv/tensor';
import { pick } from '../linear-scan/chunks.js';
import { documentResets } from '../linear-scan/reset.js';
import { perHead, type SsdOptions, type SsdResult } from './ssd.js';
import { ssdStepUnchecked } from './ssd-step.js';

/**
 * Recurrent SSD (the plain reference, any backend): {@link ssdStepUnchecked}
 * token by token. O(T) sequential ops — for tests and tiny sizes only.
 * Same arguments and result as the chunked `ssd` (chunkSize is ignored);
 * shapes are validated by the caller.
 */
export function ssdRecurrentRef(
  x: Tensor,
  dt: Tensor,
  A: Tensor,
  Bm: Tensor,
  Cm: Tensor,
  options: SsdOptions = {},
): SsdResult {
  return tidy(() => {
    const [batch, T, H, P] = x.shape as [number, number, number, number];
    // T >= 1 (validated), so the state below is always a fresh tensor, never the caller's initialState.
    const N = Bm.shape[3]!;
    let state = options.initialState ?? zeros([batch, H, P, N], { dtype: x.dtype, backend: x.backend });
    const resets = options.docStart ? perHead(documentResets(options.docStart, x.dtype), H) : undefined;
    const ys: Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const step = ssdStepUnchecked(
        pick(x, 1, t),
        pick(dt, 1, t),
        A,
        pick(Bm, 1, t),
        pick(Cm, 1, t),
        state,
        options.D,
        resets ? pick(resets, 1, t) : undefined,
      );
      ys.push(step.y);
      state = step.state;
    }
    return { y: stack(ys, 1), finalState: state };
  });
}
