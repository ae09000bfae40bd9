"""PyTorch baseline for norm-bench.ts: residual add + RMSNorm [8192, 768] f32 forward, and its
backward (dx incl. the residual gradient, dweight), eager, CUDA-event time per call."""
import json, os, torch
R, N, IT = 8192, 768, 50
x, r, dy = (torch.randn(R, N, device="cuda") for _ in range(3))
w = torch.rand(N, device="cuda", requires_grad=True)
def fwd():
    h = (x + r).requires_grad_()
    return h, torch.nn.functional.rms_norm(h, (N,), w, 1e-5)
def timed(fn):
    for _ in range(5): fn()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize(); s.record()
    for _ in range(IT): fn()
    e.record(); torch.cuda.synchronize()
    return 1000 * s.elapsed_time(e) / IT
f_us = timed(fwd)
h, y = fwd()
b_us = timed(lambda: torch.autograd.grad(y, (h, w), dy, retain_graph=True))
res = {"torch": torch.__version__, "fwd_add_rmsnorm_us": f_us, "bwd_us": b_us}
print(json.dumps(res))
if os.environ.get("OUT"): json.dump(res, open(os.environ["OUT"] + "/torch-norm.json", "w"))
