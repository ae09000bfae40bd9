"""PyTorch baselines for the short-convolution benchmark (bench/conv.ts).

Same ops, shapes and dtype (f32, TF32 off) as the WebGPU bench: static conv
(bias + SiLU), head-wise dynamic conv hs=1 and hs=16, low-rank R=16 (dynamic
ones with static filter S and the residual). Eager (static: cuDNN depthwise
conv1d; others: shifted slices) and torch.compile (inductor) of the shifted
form. Times are CUDA-event medians of forward and forward+backward.

    python3 bench/torch_conv.py [--small] [--webgpu FILE]

With --webgpu FILE (repeatable; the JSON that `bench:conv --json FILE` wrote in the same run),
it also prints the WebGPU/PyTorch time ratios.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

args = sys.argv[1:]
small = "--small" in args
webgpu_files = [args[i + 1] for i, a in enumerate(args) if a == "--webgpu"]
B, T, D, W, R = (1, 256, 128, 4, 16) if small else (4, 4096, 2048, 4, 16)
ITERS = 5 if small else 25
dev = "cuda"
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.manual_seed(0)


def shifted(x):
    """x[:, t - w] for w = 0..W-1, zero before the start (lag order)."""
    xp = F.pad(x, (0, 0, W - 1, 0))
    return [xp[:, W - 1 - w : W - 1 - w + T] for w in range(W)]


def static_shift(x, w, b):
    xs = shifted(x)
    y = b + sum(w[i] * xs[i] for i in range(W))
    return F.silu(y)


def static_cudnn(x, w, b):
    # conv1d correlates over a both-side padded input: kernel index k reads lag W-1-k.
    y = F.conv1d(x.transpose(1, 2), w.flip(0).t().unsqueeze(1), b, padding=W - 1, groups=D)[..., :T]
    return F.silu(y.transpose(1, 2))


def headwise(x, taps, s):
    xs = shifted(x)
    H = taps.shape[2]
    y = x
    for i in range(W):
        k = taps[..., i].unsqueeze(-1).expand(B, T, H, D // H).reshape(B, T, D)
        y = y + (k + s[i]) * xs[i]
    return y


def lowrank(x, z, u, s):
    xs = shifted(x)
    k = (z @ u).view(B, T, W, D) + s
    y = x
    for i in range(W):
        y = y + k[:, :, i] * xs[i]
    return y


def median_ms(step):
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(ITERS):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        step()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def measure(fn, inputs):
    gy = torch.randn(B, T, D, device=dev)

    def fwd():
        with torch.no_grad():
            fn(*inputs)

    def fwd_bwd():
        for t in inputs:
            t.grad = None
        fn(*inputs).backward(gy)

    return median_ms(fwd), median_ms(fwd_bwd)


def param(*shape, scale=0.5):
    return (torch.randn(*shape, device=dev) * scale).requires_grad_()


def copy_gbs():
    n = B * T * D
    src, dst = torch.randn(n, device=dev), torch.empty(n, device=dev)
    return 2 * n * 4 / (median_ms(lambda: dst.copy_(src)) * 1e6)


cases = [
    ("static (bias, silu)", static_cudnn, static_shift, lambda: [param(B, T, D), param(W, D), param(D)]),
    ("head-wise hs=1", headwise, headwise, lambda: [param(B, T, D), param(B, T, D, W), param(W, D)]),
    ("head-wise hs=16", headwise, headwise, lambda: [param(B, T, D), param(B, T, D // 16, W), param(W, D)]),
    ("low-rank R=16", lowrank, lowrank, lambda: [param(B, T, D), param(B, T, R), param(R, W * D, scale=0.1), param(W, D)]),
]

copy = copy_gbs()
print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}; shape B={B} T={T} D={D} W={W} f32; copy {copy:.0f} GB/s")
results = {}
for name, eager_fn, compile_src, make in cases:
    inputs = make()
    eager = measure(eager_fn, inputs)
    compiled = measure(torch.compile(compile_src), inputs)
    results[name] = {"eager": eager, "compile": compiled}
    print(f"{name:22s} eager fwd {eager[0]:.4f} ms  fwd+bwd {eager[1]:.4f} ms | compile fwd {compiled[0]:.4f} ms  fwd+bwd {compiled[1]:.4f} ms", flush=True)

for webgpu_file in [f for f in webgpu_files if os.path.exists(f)]:
    wg = json.load(open(webgpu_file))
    print(f"\nWebGPU ({wg['device']}, copy {wg['copyGBs']:.0f} GB/s, toggles {wg.get('toggles')}) vs PyTorch on the same GPU")
    print(f"{'variant':22s} {'webgpu fwd':>10s} {'webgpu f+b':>10s} {'compile f+b':>11s} {'eager f+b':>10s} {'compile/webgpu':>14s} {'eager/webgpu':>12s}")
    for row in wg["rows"]:
        r = results.get(row["variant"])
        if not r:
            continue
        wf, wfb = row["fwdMs"], row["fwdBwdMs"]
        print(
            f"{row['variant']:22s} {wf:10.4f} {wfb:10.4f} {r['compile'][1]:11.4f} {r['eager'][1]:10.4f}"
            f" {r['compile'][1] / wfb:14.2f} {r['eager'][1] / wfb:12.2f}"
        )
