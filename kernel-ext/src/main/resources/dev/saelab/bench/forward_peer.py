"""PyTorch peer for `saelab bench forward`: the same forward pass as SAE Lab's on the same checkpoint, written
independently with plain torch ops (no transformers), float32, on a fixed number of threads.

It reads the folder's config.json and model.safetensors with its own safetensors reader (the 8-byte header length,
the JSON header, each tensor read into a numpy array; F32 as is, BF16 widened to float32 by a 16-bit shift; no pickle), holds
every weight in float32 as `from_pretrained(torch_dtype=torch.float32)` would, and runs GPT-2 (LayerNorm, fused
c_attn, causal softmax, gelu_new MLP, ln_f) or Gemma 2 (embeddings x sqrt(d_model), (1 + w) RMSNorms, rotate-half
RoPE, query_pre_attn_scalar, soft-cap, sliding window on layer_types' sliding layers, GQA, post-attention norm,
GeGLU MLP between pre/post feed-forward norms, final norm) up to the final norm's output, as SAE Lab's
ln_final.hook_normalized. Prints one JSON line: the seconds to load the weights, each round's forward seconds (inside
torch.inference_mode), the peak RSS (VmHWM), and the last position's final-norm output (to check both peers computed
the same thing).
usage: forward_peer.py MODEL_DIR TOKEN_IDS(comma-separated) ROUNDS THREADS
"""
import json
import math
import os
import sys
import time

import numpy as np

from brute_force import peak_rss_kib


def read_safetensors(path):
    """{name: float32 numpy array} of a single safetensors file (F32, BF16, F16), read tensor by tensor with readinto
    (not memory-mapped: mapped pages would count in this process's RSS on top of the float32 copies)."""
    kinds = {"F32": "<f4", "BF16": "<u2", "F16": "<f2"}
    out = {}
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        header.pop("__metadata__", None)
        for name, t in header.items():
            if t["dtype"] not in kinds:
                raise SystemExit("forward_peer.py: tensor %s has dtype %s (expected F32, BF16 or F16)"
                                 % (name, t["dtype"]))
            begin, end = t["data_offsets"]
            a = np.empty((end - begin) // np.dtype(kinds[t["dtype"]]).itemsize, dtype=kinds[t["dtype"]])
            f.seek(8 + n + begin)
            if f.readinto(memoryview(a).cast("B")) != end - begin:
                raise SystemExit("forward_peer.py: %s: tensor %s is cut short" % (path, name))
            if t["dtype"] == "BF16":
                a = (a.astype(np.uint32) << 16).view(np.float32)
            elif t["dtype"] == "F16":
                a = a.astype(np.float32)
            out[name] = a.reshape(t["shape"])
    return out


def causal_mask(torch, t, window):
    i = torch.arange(t)[:, None]
    j = torch.arange(t)[None, :]
    hidden = j > i
    if window:
        hidden = hidden | (i - j >= window)
    return hidden


def gpt2_forward(torch, cfg, w, ids):
    F = torch.nn.functional
    d, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    dh = d // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    t = len(ids)
    x = w["wte.weight"][ids] + w["wpe.weight"][:t]
    mask = causal_mask(torch, t, 0)
    for l in range(L):
        p = "h.%d." % l
        h = F.layer_norm(x, (d,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = torch.addmm(w[p + "attn.c_attn.bias"], h, w[p + "attn.c_attn.weight"])
        q, k, v = (m.reshape(t, H, dh).transpose(0, 1) for m in qkv.split(d, dim=1))
        s = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(dh)
        s = s.masked_fill(mask, float("-inf"))
        z = torch.matmul(torch.softmax(s, dim=-1), v).transpose(0, 1).reshape(t, d)
        x = x + torch.addmm(w[p + "attn.c_proj.bias"], z, w[p + "attn.c_proj.weight"])
        h = F.layer_norm(x, (d,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        u = F.gelu(torch.addmm(w[p + "mlp.c_fc.bias"], h, w[p + "mlp.c_fc.weight"]), approximate="tanh")
        x = x + torch.addmm(w[p + "mlp.c_proj.bias"], u, w[p + "mlp.c_proj.weight"])
    return F.layer_norm(x, (d,), w["ln_f.weight"], w["ln_f.bias"], eps)


def gemma2_forward(torch, cfg, w, ids):
    F = torch.nn.functional
    d, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    H, KV = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    dh = cfg.get("head_dim", d // H)
    eps = cfg.get("rms_norm_eps", 1e-6)
    cap = cfg.get("attn_logit_softcapping") or 0
    window = cfg.get("sliding_window") or 0
    types = cfg.get("layer_types") or ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(L)]
    scale = cfg.get("query_pre_attn_scalar", dh) ** -0.5
    t = len(ids)

    def rms(x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (1 + g)

    inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, dh, 2, dtype=torch.float32) / dh))
    ang = torch.arange(t, dtype=torch.float32)[:, None] * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], dim=-1)
    sin = torch.cat([ang.sin(), ang.sin()], dim=-1)

    def rope(m):  # [heads, t, dh]
        half = dh // 2
        rotated = torch.cat([-m[..., half:], m[..., :half]], dim=-1)
        return m * cos + rotated * sin

    full = causal_mask(torch, t, 0)
    sliding = causal_mask(torch, t, window)
    x = w["model.embed_tokens.weight"][ids] * torch.tensor(d ** 0.5, dtype=torch.float32)
    for l in range(L):
        p = "model.layers.%d." % l
        h = rms(x, w[p + "input_layernorm.weight"])
        q = rope((h @ w[p + "self_attn.q_proj.weight"].T).reshape(t, H, dh).transpose(0, 1))
        k = rope((h @ w[p + "self_attn.k_proj.weight"].T).reshape(t, KV, dh).transpose(0, 1))
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(t, KV, dh).transpose(0, 1)
        k = k.repeat_interleave(H // KV, dim=0)
        v = v.repeat_interleave(H // KV, dim=0)
        s = torch.matmul(q, k.transpose(1, 2)) * scale
        if cap:
            s = torch.tanh(s / cap) * cap
        s = s.masked_fill(sliding if types[l] == "sliding_attention" else full, float("-inf"))
        z = torch.matmul(torch.softmax(s, dim=-1), v).transpose(0, 1).reshape(t, H * dh)
        x = x + rms(z @ w[p + "self_attn.o_proj.weight"].T, w[p + "post_attention_layernorm.weight"])
        h = rms(x, w[p + "pre_feedforward_layernorm.weight"])
        m = F.gelu(h @ w[p + "mlp.gate_proj.weight"].T, approximate="tanh") * (h @ w[p + "mlp.up_proj.weight"].T)
        x = x + rms(m @ w[p + "mlp.down_proj.weight"].T, w[p + "post_feedforward_layernorm.weight"])
    return rms(x, w["model.norm.weight"])


def main():
    folder, ids, rounds, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    import torch
    torch.set_num_threads(threads)
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    t0 = time.perf_counter()
    w = {k: torch.from_numpy(v) for k, v in read_safetensors(os.path.join(folder, "model.safetensors")).items()}
    load = time.perf_counter() - t0
    forward = {"gpt2": gpt2_forward, "gemma2": gemma2_forward}.get(cfg["model_type"])
    if forward is None:
        raise SystemExit("forward_peer.py: model_type %s (expected gpt2 or gemma2)" % cfg["model_type"])
    tokens = torch.tensor([int(i) for i in ids.split(",")], dtype=torch.long)
    times = []
    out = None
    for _ in range(rounds):
        t1 = time.perf_counter()
        with torch.inference_mode():
            out = forward(torch, cfg, w, tokens)
        times.append(time.perf_counter() - t1)
    print(json.dumps({"load_seconds": load, "rounds": times, "maxrss_kib": peak_rss_kib(),
                      "threads": torch.get_num_threads(), "version": torch.__version__,
                      "last": [float(v) for v in out[-1]]}))


if __name__ == "__main__":
    main()
