"""PyTorch baseline for the causal attention benchmark (bench/attention.bench.ts).

F.scaled_dot_product_attention(is_causal=True) in f32 (TF32 off) at the same
shapes: forward, and forward + backward (the upstream gradient a fixed random
tensor), CUDA-event medians over many repetitions after warm-up. TFLOP/s count
causal FLOPs like the WebGPU bench: forward 2 causal products, forward +
backward 7 (the standard 2 + 5; our kernels execute 9, recomputing S and dP).

    python3 bench/torch_attention.py [--small] [--webgpu FILE] [--json FILE]

Also times SDPA on f16 copies of the inputs (FlashAttention-2 on the H100),
the baseline for our reduced-precision row (tensor-core forward).

With --webgpu FILE (the JSON that `bench:attention --json FILE` wrote in the
same run) it prints our times as ratios to PyTorch's (the `reduced` row also
to f16 SDPA's).
"""

import json
import sys

import torch
import torch.nn.functional as F

args = sys.argv[1:]
small = "--small" in args
arg = lambda n: args[args.index(n) + 1] if n in args else None
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.manual_seed(0)
shapes = [(1, 2, 256, 64)] if small else [(8, 12, 1024, 64), (2, 12, 4096, 64)]
REPS = 5 if small else 50


def median_ms(fn):
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(REPS):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


rows = []
rows_f16 = []
for B, H, T, dh in shapes:
    q, k, v = (torch.randn(B, H, T, dh, device="cuda") * 0.5 for _ in range(3))
    for t in (q, k, v):
        t.requires_grad_(True)
    w = torch.randn(B, H, T, dh, device="cuda")
    unit = 2 * dh * T * (T + 1) / 2 * B * H

    def fwd():
        with torch.no_grad():
            F.scaled_dot_product_attention(q, k, v, is_causal=True)

    def fwd_bwd():
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        o.backward(w)
        q.grad = k.grad = v.grad = None

    f, fb = median_ms(fwd), median_ms(fwd_bwd)
    row = {
        "shape": f"B={B} H={H} T={T} dh={dh}",
        "fwdMs": round(f, 3),
        "fwdBwdMs": round(fb, 3),
        "fwdTflops": round(2 * unit / f / 1e9, 2),
        "fwdBwdTflops": round(7 * unit / fb / 1e9, 2),
    }
    rows.append(row)
    print("torch", json.dumps(row))

    q16, k16, v16 = (t.detach().half().requires_grad_(True) for t in (q, k, v))
    w16 = w.half()

    def fwd16():
        with torch.no_grad():
            F.scaled_dot_product_attention(q16, k16, v16, is_causal=True)

    def fwd_bwd16():
        o = F.scaled_dot_product_attention(q16, k16, v16, is_causal=True)
        o.backward(w16)
        q16.grad = k16.grad = v16.grad = None

    f, fb = median_ms(fwd16), median_ms(fwd_bwd16)
    row16 = {
        "shape": row["shape"],
        "fwdMs": round(f, 3),
        "fwdBwdMs": round(fb, 3),
        "fwdTflops": round(2 * unit / f / 1e9, 2),
        "fwdBwdTflops": round(7 * unit / fb / 1e9, 2),
    }
    rows_f16.append(row16)
    print("torch f16", json.dumps(row16))

print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, f32 SDPA (TF32 off)")
if arg("--json"):
    json.dump({"torch": torch.__version__, "rows": rows, "rowsF16": rows_f16}, open(arg("--json"), "w"), indent=2)
if arg("--webgpu"):
    ours = json.load(open(arg("--webgpu")))["rows"]
    print("\n| kernels | shape | fwd ms (x torch) | fwd+bwd ms (x torch) |\n|---|---|---|---|")
    for r in ours:
        t = next((x for x in rows if x["shape"] == r["shape"]), None)
        if t:
            print(f"| {r['kernels']} | {r['shape']} | {r['fwdMs']} ({r['fwdMs'] / t['fwdMs']:.2f}x) | {r['fwdBwdMs']} ({r['fwdBwdMs'] / t['fwdBwdMs']:.2f}x) |")
        h = next((x for x in rows_f16 if x["shape"] == r["shape"]), None)
        if h and r["kernels"] == "reduced":
            print(f"| {r['kernels']} vs torch f16 | {r['shape']} | {r['fwdMs']} ({r['fwdMs'] / h['fwdMs']:.2f}x) | {r['fwdBwdMs']} ({r['fwdBwdMs'] / h['fwdBwdMs']:.2f}x) |")
    for t in rows:
        print(f"| torch SDPA | {t['shape']} | {t['fwdMs']} | {t['fwdBwdMs']} |")
    for t in rows_f16:
        print(f"| torch SDPA f16 | {t['shape']} | {t['fwdMs']} | {t['fwdBwdMs']} |")
