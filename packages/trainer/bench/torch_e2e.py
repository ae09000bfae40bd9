"""PyTorch twin of bench/e2e.bench.ts: the same Llama-style LM, the same training step.

RMSNorm (eps 1e-6), RoPE (theta 1e4), causal SDPA, SwiGLU, untied head, no biases;
`dsc`: low-rank dynamic short convs on q, k, v (R=16, W=4, static filter, residual;
generators fused into the QKV matmul as ours are). Step: forward, cross-entropy,
backward, clip_grad_norm_(1.0), fused AdamW (lr 3e-4, betas 0.9/0.95, wd 0.1 on
matrices). Modes: f32 eager (TF32 off), bf16 autocast eager, bf16 torch.compile
(TORCH_COMPILE=1; it takes about a minute per model). Writes
$BENCH_OUT/torch-e2e.json and, when $BENCH_OUT/e2e-webgpu.json exists (same run),
prints the WebGPU / PyTorch ratios.

Env: E2E_LAYERS, E2E_DMODEL, E2E_HEADS, E2E_HIDDEN, E2E_VOCAB, E2E_BATCH, E2E_SEQ,
E2E_VARIANTS (plain,dsc), TORCH_MODES (f32,bf16[,compile]), TORCH_STEPS (5),
TORCH_E2E_TAG (suffix of the JSON file name, e.g. -compile).
"""

import json
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

env = os.environ
L = int(env.get("E2E_LAYERS", 12))
D = int(env.get("E2E_DMODEL", 768))
H = int(env.get("E2E_HEADS", 12))
HID = int(env.get("E2E_HIDDEN", 2048))
V = int(env.get("E2E_VOCAB", 50304))
B = int(env.get("E2E_BATCH", 8))
T = int(env.get("E2E_SEQ", 1024))
STEPS = int(env.get("TORCH_STEPS", 5))
VARIANTS = env.get("E2E_VARIANTS", "plain,dsc").split(",")
MODES = env.get("TORCH_MODES", "f32,bf16" + (",compile" if env.get("TORCH_COMPILE") == "1" else "")).split(",")
R, W = 16, 4
dev = "cuda"
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return F.rms_norm(x, (x.shape[-1],), self.weight, 1e-6)


def rope(x, cos, sin):
    # x [B, H, T, dh]; rotate-half convention
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


def lowrank_conv(x, z, U, s):
    """y_t = x_t + sum_w (z_t U + s)[w] * x_{t-w}; x [B, T, C], z [B, T, R]."""
    Bx, Tx, C = x.shape
    k = (z @ U).view(Bx, Tx, W, C) + s
    xp = F.pad(x, (0, 0, W - 1, 0))
    y = x
    for w in range(W):
        y = y + k[:, :, w] * xp[:, W - 1 - w : W - 1 - w + Tx]
    return y


class Block(nn.Module):
    def __init__(self, dsc):
        super().__init__()
        self.dsc = dsc
        self.attn_norm = RMSNorm(D)
        self.qkv = nn.Linear(D, 3 * D + (3 * R if dsc else 0), bias=False)
        self.o = nn.Linear(D, D, bias=False)
        if dsc:
            self.U = nn.Parameter(torch.randn(3, R, W * D) * 0.02)
            self.static_w = nn.Parameter(torch.randn(3, W, D) * 0.5)
        self.mlp_norm = RMSNorm(D)
        self.gate = nn.Linear(D, HID, bias=False)
        self.up = nn.Linear(D, HID, bias=False)
        self.down = nn.Linear(HID, D, bias=False)

    def forward(self, x, cos, sin):
        h = self.attn_norm(x)
        out = self.qkv(h)
        q, k, v = out[..., :D], out[..., D : 2 * D], out[..., 2 * D : 3 * D]
        if self.dsc:
            zs = out[..., 3 * D :].split(R, dim=-1)
            q, k, v = (lowrank_conv(t, zs[i], self.U[i], self.static_w[i]) for i, t in enumerate((q, k, v)))
        dh = D // H
        q, k, v = (t.view(B, T, H, dh).transpose(1, 2) for t in (q, k, v))
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(B, T, D))
        h = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class LM(nn.Module):
    def __init__(self, dsc):
        super().__init__()
        self.emb = nn.Embedding(V, D)
        self.blocks = nn.ModuleList(Block(dsc) for _ in range(L))
        self.norm = RMSNorm(D)
        self.head = nn.Linear(D, V, bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
        dh = D // H
        inv = 1.0 / (10000 ** (torch.arange(0, dh, 2).float() / dh))
        ang = torch.outer(torch.arange(T).float(), inv)
        self.register_buffer("cos", ang.cos()[None, None], persistent=False)
        self.register_buffer("sin", ang.sin()[None, None], persistent=False)

    def forward(self, ids, targets):
        x = self.emb(ids)
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin)
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.float().view(-1, V), targets.view(-1))


def run(variant, mode):
    torch.manual_seed(0)
    model = LM(variant == "dsc").to(dev)
    params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=3e-4, betas=(0.9, 0.95), eps=1e-8, fused=True,
    )
    fwd = torch.compile(model) if mode == "compile" else model
    g = torch.Generator(device="cpu").manual_seed(1)
    ids = torch.randint(0, V, (B, T), generator=g).to(dev)
    targets = torch.randint(0, V, (B, T), generator=g).to(dev)
    amp = mode in ("bf16", "compile")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss = fwd(ids, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    t_warm = time.perf_counter()
    for _ in range(2):
        step()
    torch.cuda.synchronize()
    warm_s = time.perf_counter() - t_warm
    t0 = time.perf_counter()
    for _ in range(STEPS):
        loss = step()
    torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) * 1000 / STEPS
    mem = torch.cuda.max_memory_allocated() / 2**30
    del model, opt, fwd
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    return {"variant": variant, "mode": mode, "parameters": params, "msPerStep": ms,
            "tokensPerSec": B * T * 1000 / ms, "loss": float(loss.detach()), "warmupSeconds": warm_s, "peakGiB": mem}


out_dir = env.get("BENCH_OUT", "bench-results")
os.makedirs(out_dir, exist_ok=True)
webgpu_file = os.path.join(out_dir, "e2e-webgpu.json")
webgpu = json.load(open(webgpu_file)) if os.path.exists(webgpu_file) else None
flops_per_token = {}
if webgpu:
    for r in webgpu["rows"]:
        if "flopsPerToken" in r:
            flops_per_token[r["variant"]] = r["flopsPerToken"]

print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}; L={L} d={D} H={H} hidden={HID} V={V} B={B} T={T}")
rows = []
for variant in VARIANTS:
    for mode in MODES:
        try:
            r = run(variant, mode)
        except Exception as e:  # report and go on (e.g. torch.compile unavailable)
            print(f"{variant:6s} {mode:8s} FAILED {str(e).splitlines()[0][:200]}")
            rows.append({"variant": variant, "mode": mode, "error": str(e)[:500]})
            continue
        fpt = flops_per_token.get(variant)
        if fpt is None:  # 6N + attention (12 L d T), when the WebGPU run did not say
            fpt = 6 * r["parameters"] + 12 * L * D * T
        r["flopsPerToken"] = fpt
        r["mfuTensor"] = fpt * r["tokensPerSec"] / 989e12
        rows.append(r)
        print(f"{variant:6s} {mode:8s} {r['parameters'] / 1e6:6.1f}M params {r['msPerStep']:8.1f} ms/step "
              f"{r['tokensPerSec']:9.0f} tok/s  MFU {100 * r['mfuTensor']:4.1f}% of 989T  "
              f"(warm-up {r['warmupSeconds']:.1f} s, peak {r['peakGiB']:.1f} GiB, loss {r['loss']:.3f})")

with open(os.path.join(out_dir, f"torch-e2e{env.get('TORCH_E2E_TAG', '')}.json"), "w") as f:
    json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}, f, indent=2)

if webgpu:
    print("\nWebGPU / PyTorch tokens/s (same GPU, same command)")
    ours = {(r["variant"], r["mode"]): r for r in webgpu["rows"] if "tokensPerSec" in r}
    theirs = {(r["variant"], r["mode"]): r for r in rows if "tokensPerSec" in r}
    for variant in VARIANTS:
        for our_mode, their_mode in (("f32", "f32"), ("mixed", "bf16"), ("mixed", "compile")):
            a, b = ours.get((variant, our_mode)), theirs.get((variant, their_mode))
            if a and b:
                print(f"  {variant:6s} webgpu {our_mode:6s} B={a.get('batch', B)} {a['tokensPerSec']:9.0f}  vs torch {their_mode:8s} "
                      f"{b['tokensPerSec']:9.0f}  ratio {a['tokensPerSec'] / b['tokensPerSec']:.3f}")
