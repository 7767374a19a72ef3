#!/usr/bin/python3
"""Independent numpy reference for composition between heads (kernel-ext/docs/math.md §19).

Run: /usr/bin/python3 datasets/reference/composition.py   (writes datasets/reference/composition.json)

Numpy only, float64 throughout, its own safetensors/BF16 reader (as forward.py's) and npz reading. Nothing is imported
from the generators or the Java code; every matrix is formed densely ([d_model, d_model]) and every norm taken
directly, with numpy's SVD where directions are needed (not SAE Lab's QR route).

Folded head matrices, rows acting on the right (x·W):
  N_in   = diag(g_in) (Gemma 2: g = 1 + w), C·diag(w) for GPT-2's LayerNorm (C = I − 11ᵀ/d)
  G_post = diag(1 + w_post) for Gemma 2 (the post-attention norm on the head's write), I otherwise
  QK^h   = N_in·W_Q^h·(N_in·W_K^g)ᵀ                       (g = h // (n_heads / n_kv_heads))
  OV^h   = N_in·W_V^g·W_O^h·G_post, then ·C for GPT-2     (every reader of a LayerNorm model's stream centres it)
For A in layer l1 < B in layer l2 the composites are M_Q = OV^A·QK^B, M_K = OV^A·(QK^B)ᵀ, M_V = OV^A·OV^B, and
score = ‖M‖_F / (‖OV^A‖_F·‖W_B‖_F) with W_B = QK^B, (QK^B)ᵀ or OV^B (Elhage et al.'s definition on folded matrices).

Per SAE feature f of an SAE on a stream between them (encoder column e_f, decoder row d_f; e_f·C for the GPT-2
SAE trained on the centred stream): M_f = (OV^A·e_fᵀ)(d_f·W_B), a rank-one matrix;
  strength_f = ‖M_f‖_F / (‖OV^A‖_F·‖W_B‖_F) = ‖OV^A·e_fᵀ‖·‖d_f·W_B‖ / (…),  share_f = ⟨M_f, M⟩_F / ‖M‖_F²,
top 10 by strength (ties: feature index), plus Σ_f share_f over every feature.
Per singular direction k of W_B = Σ_k σ_k x_kᵀ y_k (numpy SVD of the dense matrix, the first d_head):
M_k = σ_k (OV^A·x_kᵀ) y_k and share_k = ‖M_k‖_F² / ‖M‖_F² (the M_k are orthogonal, so the shares add up to 1).

Models: tiny-gemma2 (SAE tiny-gemma-scope layer_0 width_128, resid_post of layer 0), tiny-gpt2 (SAE
tiny-saelens/blocks.1.hook_resid_pre, centred stream), tiny-composition (its blocks.1.hook_resid_pre SAE; pairs with
l1 < 1 ≤ l2 get feature splits).
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
OUT = os.path.join(HERE, "composition.json")
TOP_FEATURES = 10


# ----------------------------------------------------------------------------- reading (as forward.py)
def read_safetensors_file(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        raw = blob[base + a:base + b]
        if t["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        elif t["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32).astype(np.float64)
        else:
            raise ValueError(f"{path} {name}: dtype {t['dtype']}")
        out[name] = arr.reshape(t["shape"])
    return out


def read_model(folder):
    path = os.path.join(DATA, folder)
    idx = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for fn in files:
        out.update(read_safetensors_file(os.path.join(path, fn)))
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    return cfg, out


def read_sae(path):
    """(W_enc [d, n], W_dec [n, d]) of a Gemma Scope params.npz or a SAELens folder."""
    full = os.path.join(DATA, path)
    if full.endswith(".npz"):
        z = np.load(full)
        return z["W_enc"].astype(np.float64), z["W_dec"].astype(np.float64)
    w = read_safetensors_file(os.path.join(full, "sae_weights.safetensors"))
    return w["W_enc"], w["W_dec"]


# ----------------------------------------------------------------------------- folded head matrices
def heads(cfg, w):
    """{(layer, head): (QK, OV)} folded as the docstring says."""
    out = {}
    if cfg["model_type"] == "gpt2":
        d, H, nl = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
        dh = d // H
        Cm = np.eye(d) - np.ones((d, d)) / d
        for l in range(nl):
            g = w[f"h.{l}.ln_1.weight"]
            W = w[f"h.{l}.attn.c_attn.weight"]
            Wo = w[f"h.{l}.attn.c_proj.weight"]
            N = Cm @ np.diag(g)
            for h in range(H):
                Wq, Wk = N @ W[:, h * dh:(h + 1) * dh], N @ W[:, d + h * dh:d + (h + 1) * dh]
                Wv = N @ W[:, 2 * d + h * dh:2 * d + (h + 1) * dh]
                out[(l, h)] = (Wq @ Wk.T, Wv @ Wo[h * dh:(h + 1) * dh, :] @ Cm)
        return out
    d, H, KV, dh, nl = (cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"],
                        cfg["head_dim"], cfg["num_hidden_layers"])
    grp = H // KV
    for l in range(nl):
        pre = f"model.layers.{l}."
        N = np.diag(1 + w[pre + "input_layernorm.weight"])
        G = np.diag(1 + w[pre + "post_attention_layernorm.weight"])
        q, k, v, o = (w[pre + f"self_attn.{x}_proj.weight"] for x in "qkvo")
        for h in range(H):
            g = h // grp
            Wq, Wk, Wv = N @ q[h * dh:(h + 1) * dh].T, N @ k[g * dh:(g + 1) * dh].T, N @ v[g * dh:(g + 1) * dh].T
            Wo = o[:, h * dh:(h + 1) * dh].T
            out[(l, h)] = (Wq @ Wk.T, Wv @ Wo @ G)
    return out


def fro(m):
    return float(np.sqrt((m * m).sum()))


def pairs(cfg, w, sae=None, sae_layer=None, centred=False, dh=None):
    hs = heads(cfg, w)
    enc = dec = None
    if sae is not None:
        enc, dec = read_sae(sae)
        if centred:
            d = enc.shape[0]
            enc = (np.eye(d) - np.ones((d, d)) / d) @ enc
    res = []
    for (l1, h1), (_, A) in sorted(hs.items()):
        for (l2, h2), (QK, OV) in sorted(hs.items()):
            if l2 <= l1:
                continue
            for kind, B in (("q", QK), ("k", QK.T), ("v", OV)):
                M = A @ B
                nA, nB, nM = fro(A), fro(B), fro(M)
                item = {"source": [l1, h1], "target": [l2, h2], "kind": kind, "score": nM / (nA * nB),
                        "composite_norm": nM, "source_norm": nA, "target_norm": nB}
                U, S, Vt = np.linalg.svd(B)
                shares = []
                for kk in range(dh):
                    Mk = S[kk] * np.outer(A @ U[:, kk], Vt[kk])
                    shares.append(fro(Mk) ** 2 / nM ** 2)
                item["sigma"] = [float(s) for s in S[:dh]]
                item["direction_shares"] = shares
                if enc is not None and l1 < sae_layer <= l2:
                    feats = []
                    total = 0.0
                    for f in range(enc.shape[1]):
                        Mf = np.outer(A @ enc[:, f], dec[f] @ B)
                        share = float((Mf * M).sum()) / nM ** 2
                        total += share
                        feats.append((fro(Mf) / (nA * nB), share, f))
                    feats.sort(key=lambda x: (-x[0], x[2]))
                    item["features"] = [{"feature": f, "strength": s, "share": sh}
                                        for s, sh, f in feats[:TOP_FEATURES]]
                    item["feature_share_total"] = total
                res.append(item)
    return res


if __name__ == "__main__":
    out = {"top_features": TOP_FEATURES}
    cfg, w = read_model("tiny-gemma2")
    out["tiny-gemma2"] = {"model": "tiny-gemma2", "sae": "tiny-gemma-scope/layer_0/width_128/average_l0_12/params.npz",
                          "sae_layer": 1,
                          "pairs": pairs(cfg, w, "tiny-gemma-scope/layer_0/width_128/average_l0_12/params.npz", 1,
                                         dh=cfg["head_dim"])}
    cfg, w = read_model("tiny-gpt2")
    out["tiny-gpt2"] = {"model": "tiny-gpt2", "sae": "tiny-saelens/blocks.1.hook_resid_pre", "sae_layer": 1,
                        "pairs": pairs(cfg, w, "tiny-saelens/blocks.1.hook_resid_pre", 1, centred=True,
                                       dh=cfg["n_embd"] // cfg["n_head"])}
    cfg, w = read_model("tiny-composition/model")
    out["tiny-composition"] = {"model": "tiny-composition/model", "sae": "tiny-composition/blocks.1.hook_resid_pre",
                               "sae_layer": 1,
                               "pairs": pairs(cfg, w, "tiny-composition/blocks.1.hook_resid_pre", 1,
                                              dh=cfg["head_dim"])}
    for key in ("tiny-gemma2", "tiny-gpt2", "tiny-composition"):
        for p in out[key]["pairs"]:
            assert abs(sum(p["direction_shares"]) - 1) < 1e-9, p
        best = max(out[key]["pairs"], key=lambda p: p["score"])
        print(f"{key}: {len(out[key]['pairs'])} (pair, kind) scores; strongest {best['kind'].upper()} "
              f"L{best['source'][0]}H{best['source'][1]} -> L{best['target'][0]}H{best['target'][1]} "
              f"{best['score']:.4f}, top feature {best.get('features', [{}])[0].get('feature')}")
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", OUT)
