import { fmtShape, TensorError } from './errors.js';
import { keep, tidy } from './scope.js';
import { sameShape } from './shape.js';
import type { Tensor } from './tensor.js';

/**
 * Reverse-mode autograd on a define-by-run tape. Each differentiable op that
 * sees an input requiring gradients records a `GradNode` on its outputs.
 * Gradients of gradients are not supported: backward rules run under `noGrad`.
 */

/** Where an input's gradient goes: another node's output, or a leaf tensor's `.grad`. */
type Edge = { readonly node: GradNode; readonly index: number } | { readonly leaf: Tensor };

/** Backward rule: output gradients (null where an output got none) to input gradients. */
export type BackwardFn = (
  grads: readonly (Tensor | null)[],
  saved: readonly Tensor[],
) => readonly (Tensor | null)[];

let gradDisabled = 0;

/** Whether ops currently record the tape. */
export const isGradEnabled = (): boolean => gradDisabled === 0;

/** Runs `fn` without recording gradients. */
export function noGrad<T>(fn: () => T): T {
  gradDisabled++;
  try {
    return fn();
  } finally {
    gradDisabled--;
  }
}

export class GradNode {
  /** Live output tensors plus consumer nodes that point here; at 0 the saved tensors go. */
  refs = 0;
  private released = false;

  constructor(
    readonly name: string,
    readonly edges: readonly (Edge | null)[],
    readonly saved: readonly Tensor[],
    readonly backward: BackwardFn,
    readonly outputs: readonly { shape: readonly number[] }[],
  ) {
    for (const e of edges) if (e && 'node' in e) e.node.refs++;
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** Frees saved tensors and lets go of upstream nodes. */
  release(): void {
    if (this.released) return;
    this.freeSaved();
    for (const e of this.edges) if (e && 'node' in e && --e.node.refs === 0) e.node.release();
  }

  /** Frees saved tensors only: backward visits (and frees) every upstream node itself. */
  freeSaved(): void {
    this.released = true;
    for (const t of this.saved) t.dispose();
  }

  unref(): void {
    if (--this.refs === 0) this.release();
  }
}

/**
 * Records a differentiable op. Call after computing `outputs` from `inputs`.
 * `saved` tensors are shared (not copied) and freed once backward has passed
 * through the node or nothing can reach it any more.
 */
export function record(
  name: string,
  inputs: readonly Tensor[],
  outputs: readonly Tensor[],
  saved: readonly Tensor[],
  backward: BackwardFn,
): void {
  if (!isGradEnabled() || !inputs.some((t) => t.requiresGrad)) return;
  const edges = inputs.map((t): Edge | null =>
    !t.requiresGrad ? null : t.gradFn ? { node: t.gradFn.node, index: t.gradFn.index } : { leaf: t },
  );
  const node = new GradNode(
    name,
    edges,
    saved.map((t) => keep(t.share())),
    backward,
    outputs.map((t) => ({ shape: t.shape })),
  );
  for (const [index, t] of outputs.entries()) t.attachGrad(node, index);
}

const accumulate = (prev: Tensor | null, g: Tensor): Tensor => {
  if (!prev) return g;
  const sum = keep(prev.add(g));
  prev.dispose();
  g.dispose();
  return sum;
};

/**
 * Backpropagates from `root` (a scalar, or pass `grad` of the root's shape),
 * accumulating into `.grad` of leaf tensors that require gradients. The graph is
 * released as it is traversed.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.gradFn) {
    if (root.requiresGrad) {
      root.setGrad(accumulate(root.grad, keep(grad ? grad.share() : root.onesLike())));
      return;
    }
    throw new TensorError('backward', 'the tensor does not require gradients (no recorded graph)');
  }
  if (!grad && root.size !== 1)
    throw new TensorError('backward', `a non-scalar root ${fmtShape(root.shape)} needs an explicit gradient`);
  if (grad && !sameShape(grad.shape, root.shape))
    throw new TensorError(
      'backward',
      `gradient ${fmtShape(grad.shape)} does not match root ${fmtShape(root.shape)}`,
    );

  const order = topoOrder(root.gradFn.node);
  const pending = new Map<GradNode, (Tensor | null)[]>();
  const rootGrads = new Array<Tensor | null>(root.gradFn.node.outputs.length).fill(null);
  rootGrads[root.gradFn.index] = keep(grad ? grad.share() : root.onesLike());
  pending.set(root.gradFn.node, rootGrads);

  noGrad(() => {
    for (const node of order) {
      const grads = pending.get(node);
      pending.delete(node);
      if (!grads || grads.every((g) => !g)) {
        node.freeSaved();
        continue;
      }
      if (node.isReleased)
        throw new TensorError(
          'backward',
          `graph of '${node.name}' was already freed (backward called twice?)`,
        );
      // A rule may hand back an incoming gradient or the same tensor twice: give each slot its own handle.
      const inGrads = tidy(() => {
        const seen = new Set<Tensor>(grads.filter((g): g is Tensor => g !== null));
        return node.backward(grads, node.saved).map((g) => {
          if (!g) return null;
          if (seen.has(g)) return g.share();
          seen.add(g);
          return g;
        });
      });
      for (const g of grads) g?.dispose();
      node.edges.forEach((edge, i) => {
        const g = inGrads[i];
        if (!g) return;
        if (!edge) {
          g.dispose();
          return;
        }
        keep(g);
        if ('leaf' in edge) {
          if (edge.leaf.disposed) g.dispose();
          else edge.leaf.setGrad(accumulate(edge.leaf.grad, g));
        } else {
          const slot =
            pending.get(edge.node) ?? new Array<Tensor | null>(edge.node.outputs.length).fill(null);
          slot[edge.index] = accumulate(slot[edge.index] ?? null, g);
          pending.set(edge.node, slot);
        }
      });
      node.freeSaved();
    }
  });
  root.detachGrad();
}

/** Nodes reachable from `start`, consumers before producers. */
function topoOrder(start: GradNode): GradNode[] {
  const visited = new Set<GradNode>();
  const post: GradNode[] = [];
  const stack: [GradNode, number][] = [[start, 0]];
  visited.add(start);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    if (i < node.edges.length) {
      top[1]++;
      const e = node.edges[i];
      if (e && 'node' in e && !visited.has(e.node)) {
        visited.add(e.node);
        stack.push([e.node, 0]);
      }
    } else {
      stack.pop();
      post.push(node);
    }
  }
  return post.reverse();
}
