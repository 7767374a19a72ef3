#!/usr/bin/python3
"""Independent numpy reference for SAE Lab's QK/OV tables on the shipped tiny datasets.

Run: /usr/bin/python3 datasets/reference/tables.py   (writes datasets/reference/tables.json)

Reads the shipped files with numpy alone (its own safetensors/BF16 and npz reading), computes every head's full
QK and OV matrices in float64 exactly as kernel-ext/docs/math.md §2–3 states, and keeps the top entries by |value|
(ties: row, then column). The Java tests compare against the committed JSON.
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
TOP = 12


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        buf = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        raw = buf[b:e]
        if t["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif t["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        else:
            raise ValueError(t["dtype"])
        out[name] = a.reshape(t["shape"]).astype(np.float64)
    return out


def read_sharded(folder):
    idx = json.load(open(os.path.join(folder, "model.safetensors.index.json")))
    out = {}
    for shard in sorted(set(idx["weight_map"].values())):
        out.update(read_safetensors(os.path.join(folder, shard)))
    return out


def top(m, k=TOP, exclude_diag=False):
    rows, cols = np.indices(m.shape)
    key = np.abs(m).ravel().copy()
    if exclude_diag:
        key[(rows == cols).ravel()] = -1
    order = np.lexsort((cols.ravel(), rows.ravel(), -key))[:k]
    return [[int(rows.ravel()[i]), int(cols.ravel()[i]), float(m.ravel()[i])] for i in order]


def gemma():
    w = read_sharded(os.path.join(DATA, "tiny-gemma2"))
    cfg = json.load(open(os.path.join(DATA, "tiny-gemma2", "config.json")))
    H, KV, dh = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    sin = np.load(os.path.join(DATA, "tiny-gemma-scope/layer_0/width_128/average_l0_12/params.npz"))
    sout = np.load(os.path.join(DATA, "tiny-gemma-scope/layer_1/width_96/average_l0_9/params.npz"))
    p = "model.layers.1."
    g_in = 1 + w[p + "input_layernorm.weight"]
    g_post = 1 + w[p + "post_attention_layernorm.weight"]
    D = sin["W_dec"].astype(np.float64) * g_in
    E = sout["W_enc"].astype(np.float64).T * g_post
    Q = D @ w[p + "self_attn.q_proj.weight"].T
    K = D @ w[p + "self_attn.k_proj.weight"].T
    V = D @ w[p + "self_attn.v_proj.weight"].T
    P = E @ w[p + "self_attn.o_proj.weight"]
    res = {"qk": [], "qk_distinct": [], "ov": [], "qk_sum": None}
    total = 0
    for h in range(H):
        g = h // (H // KV)                      # GQA: repeat_interleave
        qk = Q[:, h * dh:(h + 1) * dh] @ K[:, g * dh:(g + 1) * dh].T        # [query i, key j]
        ov = V[:, g * dh:(g + 1) * dh] @ P[:, h * dh:(h + 1) * dh].T        # [value i, output j]
        total = total + qk
        res["qk"].append(top(qk))
        res["qk_distinct"].append(top(qk, exclude_diag=True))
        res["ov"].append(top(ov))
    res["qk_sum"] = top(total)
    res["query_scale"] = cfg["query_pre_attn_scalar"] ** -0.5
    return res


def gpt2():
    w = read_safetensors(os.path.join(DATA, "tiny-gpt2", "model.safetensors"))
    cfg = json.load(open(os.path.join(DATA, "tiny-gpt2", "config.json")))
    d, H = cfg["n_embd"], cfg["n_head"]
    dh = d // H
    sin = read_safetensors(os.path.join(DATA, "tiny-saelens/blocks.1.hook_resid_pre/sae_weights.safetensors"))
    sout = read_safetensors(os.path.join(DATA, "tiny-saelens/blocks.1.hook_resid_post/sae_weights.safetensors"))
    C = np.eye(d) - np.ones((d, d)) / d
    D = (sin["W_dec"] @ C) * w["h.1.ln_1.weight"]       # LayerNorm on a direction: centre, then scale
    E = sout["W_enc"].T @ C                              # res-jb SAEs read the centred stream
    W = w["h.1.attn.c_attn.weight"]                      # Conv1D [in, out] = [Q | K | V]
    Wo = w["h.1.attn.c_proj.weight"]                     # [H*dh, d]
    res = {"qk": [], "ov": []}
    for h in range(H):
        q = D @ W[:, h * dh:(h + 1) * dh]
        k = D @ W[:, d + h * dh:d + (h + 1) * dh]
        v = D @ W[:, 2 * d + h * dh:2 * d + (h + 1) * dh]
        pz = E @ Wo[h * dh:(h + 1) * dh, :].T
        res["qk"].append(top(q @ k.T))
        res["ov"].append(top(v @ pz.T))
    return res


if __name__ == "__main__":
    out = {"top": TOP, "gemma2_layer1": gemma(), "gpt2_layer1": gpt2()}
    with open(os.path.join(HERE, "tables.json"), "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", os.path.join(HERE, "tables.json"))
