"""PyTorch baseline on the same GPU, for the ratio against the WebGPU bench.

f32 matmul TFLOP/s at 1024^3 and 4096^3 (TF32 off: true f32), elementwise add
and copy GB/s, row-sum GB/s, all timed with CUDA events. Writes
$BENCH_OUT/torch-baseline.json and, when the WebGPU results are in the same
directory (tensor-*.json), prints the ratio table.
"""
import glob
import json
import os

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = torch.device("cuda")


def time_ms(fn, reps):
    fn()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(3):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end) / reps)
    return best


results = {}
for size in (1024, 4096):
    a = torch.rand(size, size, device=dev)
    b = torch.rand(size, size, device=dev)
    out = torch.empty(size, size, device=dev)
    reps = max(3, min(50, round(2e11 / (2 * size**3))))
    ms = time_ms(lambda: torch.mm(a, b, out=out), reps)
    results[f"matmul f32 {size}^3"] = {"value": 2 * size**3 / (ms * 1e6), "unit": "GFLOP/s", "ms": ms}

# The matmuls of a GPT-2-small training step (B*T = 8192, d = 768, hidden 2048/2304, vocab 50304), stored
# like the WebGPU bench stores them (x@W^T: W [n, k]; dX: W [k, n]; dW: dY [k, m] read transposed), f32, TF32 off.
T = 8192
TRAIN_SHAPES = [
    ("qkv x@W^T", T, 2304, 768, "xWt"),
    ("qkv dX=dY@W", T, 768, 2304, "xW"),
    ("qkv dW=dY^T@X", 2304, 768, T, "dW"),
    ("attn out x@W^T", T, 768, 768, "xWt"),
    ("attn out dX=dY@W", T, 768, 768, "xW"),
    ("attn out dW=dY^T@X", 768, 768, T, "dW"),
    ("mlp up x@W^T", T, 2048, 768, "xWt"),
    ("mlp up dX=dY@W", T, 768, 2048, "xW"),
    ("mlp up dW=dY^T@X", 2048, 768, T, "dW"),
    ("mlp down x@W^T", T, 768, 2048, "xWt"),
    ("mlp down dX=dY@W", T, 2048, 768, "xW"),
    ("mlp down dW=dY^T@X", 768, 2048, T, "dW"),
    ("lm head x@W^T", T, 50304, 768, "xWt"),
    ("lm head dX=dY@W", T, 768, 50304, "xW"),
    ("lm head dW=dY^T@X", 50304, 768, T, "dW"),
]
if os.environ.get("TORCH_TRAIN_SHAPES", "1") != "0":
    for name, m, n, k, kind in TRAIN_SHAPES:
        a = torch.rand(k, m, device=dev).t() if kind == "dW" else torch.rand(m, k, device=dev)
        b = torch.rand(n, k, device=dev).t() if kind == "xWt" else torch.rand(k, n, device=dev)
        out = torch.empty(m, n, device=dev)
        flops = 2 * m * n * k
        ms = time_ms(lambda: torch.mm(a, b, out=out), max(3, min(20, round(1e11 / flops))))
        results[f"train {name} [{m}x{n}x{k}] torch f32"] = {"value": flops / (ms * 1e6), "unit": "GFLOP/s", "ms": ms}
        del a, b, out

# Tensor-core references for the subgroup-matrix kernel: f16 and bf16 inputs, f32 accumulation
# (cuBLAS; reduced-precision reductions off so the accumulation stays f32).
torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
for dtype, tag in ((torch.float16, "f16"), (torch.bfloat16, "bf16")):
    size = 4096
    a = torch.rand(size, size, device=dev, dtype=dtype)
    b = torch.rand(size, size, device=dev, dtype=dtype)
    out = torch.empty(size, size, device=dev, dtype=dtype)
    ms = time_ms(lambda: torch.mm(a, b, out=out), 20)
    results[f"matmul {tag} {size}^3"] = {"value": 2 * size**3 / (ms * 1e6), "unit": "GFLOP/s", "ms": ms}
# TF32 tensor cores: what PyTorch's f32 matmul does with allow_tf32 (the analogue of our reduced precision).
torch.backends.cuda.matmul.allow_tf32 = True
a = torch.rand(4096, 4096, device=dev)
b = torch.rand(4096, 4096, device=dev)
out = torch.empty(4096, 4096, device=dev)
ms = time_ms(lambda: torch.mm(a, b, out=out), 20)
results["matmul tf32 4096^3"] = {"value": 2 * 4096**3 / (ms * 1e6), "unit": "GFLOP/s", "ms": ms}
torch.backends.cuda.matmul.allow_tf32 = False

n = 2**26
x = torch.ones(n, device=dev)
y = torch.full((n,), 2.0, device=dev)
z = torch.empty(n, device=dev)
ms = time_ms(lambda: torch.add(x, y, out=z), 20)
results["add f32 64M"] = {"value": 3 * n * 4 / (ms * 1e6), "unit": "GB/s", "ms": ms}
ms = time_ms(lambda: z.copy_(x), 20)
results["copy f32 64M"] = {"value": 2 * n * 4 / (ms * 1e6), "unit": "GB/s", "ms": ms}
rows = x.view(n // 16384, 16384)
s = torch.empty(n // 16384, device=dev)
ms = time_ms(lambda: torch.sum(rows, dim=1, out=s), 20)
results["sum over rows f32"] = {"value": n * 4 / (ms * 1e6), "unit": "GB/s", "ms": ms}

# Per-op launch overhead: 2000 dependent tiny in-place ops, wall clock including the final sync.
tiny = torch.zeros(256, device=dev)
import time
for _ in range(2):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(2000):
        tiny.add_(1.0)
    torch.cuda.synchronize()
    wall = (time.perf_counter() - t0) / 2000
results["dispatch wall (2000 tiny ops)"] = {"value": wall * 1e6, "unit": "us", "ms": wall * 1e3}

print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
for name, r in results.items():
    print(f"{name:44s} {r['value']:10.1f} {r['unit']:8s} {r['ms']:9.3f} ms")

out_dir = os.environ.get("BENCH_OUT", os.path.join(os.path.dirname(__file__), "..", "bench-results"))
os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "torch-baseline.json"), "w") as f:
    json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "results": results}, f, indent=2)

# Ratio table against the WebGPU results of this run (same directory).
pairs = {
    "matmul f32 1024^3": "matmul f32 1024^3 auto",
    "matmul f32 4096^3": ("matmul f32 4096^3 auto", "f32 4096^3 registerTiled"),
    "matmul f16 4096^3": "f16>f32 4096^3 sgmat",
    "matmul tf32 4096^3": "f32 4096^3 reduced precision (sgmat)",
    "add f32 64M": "add f32 64M",
    "copy f32 64M": "copy f32 64M",
    "sum over rows f32": "sum over rows",
    "dispatch wall (2000 tiny ops)": "dispatch wall (encode",
}
for path in glob.glob(os.path.join(out_dir, "tensor-*.json")):
    ours = json.load(open(path))["results"]
    print(f"\nWebGPU ({os.path.basename(path)}) / PyTorch (throughput ratio; for us: PyTorch time / WebGPU time):")
    for torch_name, prefix in pairs.items():
        prefixes = prefix if isinstance(prefix, tuple) else (prefix,)
        for r in [r for r in ours if r["name"].startswith(prefixes)]:
            theirs = results[torch_name]["value"]
            ratio = theirs / r["value"] if r["unit"] == "us" else r["value"] / theirs
            print(f"{torch_name:30s} webgpu {r['value']:10.1f} torch {theirs:10.1f} {r['unit']:8s} ratio {ratio:5.2f}  ({r['name']})")
