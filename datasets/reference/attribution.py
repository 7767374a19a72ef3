#!/usr/bin/python3
"""Independent float64 reference for QK and OV attribution on a prompt (issue 14; kernel-ext/docs/math.md §16).

Run: /usr/bin/python3 datasets/reference/attribution.py   (writes datasets/reference/attribution.json)

Numpy only: its own safetensors reader (F32/BF16, copied from forward.py), numpy's npz reader, its own SAE encoder and
its own attention layer; nothing is imported from the Java code, the generators or the other reference scripts. The
layer's input rows are forward.json's resid_pre of the layer (the float64 reference forward pass on token ids
[2, 17, 5, 33, 9, 41, 12, 60]), rounded to float32 (what SAE Lab's float32 residual holds), then widened to float64:
both sides start from the same numbers.

Maths (vectors are rows):
  SAE encoding of a row x (float64): x' = x − mean(x) for SAEs trained on the centred stream
  (center_writing_weights), else x; pre = (x' − b_dec if apply_b_dec_to_input else x')·W_enc + b_enc; JumpReLU
  a = pre·[pre > threshold]; standard (ReLU) a = max(pre, 0). Reconstruction r = a·W_dec + b_dec.
  Decomposition of the layer input: x_t = Σ_i a_{t,i} d_i + b_dec + ε_t with ε_t = x_t − r_t (the raw row: for a
  centred SAE ε_t also holds mean(x_t)·𝟙, which LayerNorm removes).
  Input norm frozen at the prompt: ρ_t = sqrt(mean(x_t²) + eps) (RMSNorm) or sqrt(var(x_t) + eps) (LayerNorm).
  fold_in(c) = c ⊙ g (RMSNorm; g = 1 + w for Gemma) or (c − mean(c)) ⊙ w (LayerNorm).
  Per component c (each active feature a_{t,i}·d_i, b_dec, ε_t): q_c = fold_in(c)/ρ_t · W_Q^h; the bias component
  b̃_Q = b_Q + b_ln·W_Q^h. Σ over components = the model's q_t. With q_norm (Gemma 3, Qwen3): r_q = sqrt(mean(q_t²) +
  eps) of the actual q_t, frozen; each component becomes g_q ⊙ q_c / r_q. RoPE: each component rotated by R(t)
  (rotate-half, explicit rotation matrices here), keys by R(u). Same on the key side with W_K^{g(h)}, k_norm.
  term(α, β) = scale·q_α·k_β; score = Σ_{α,β} term (before Gemma 2's soft-cap; capped = cap·tanh(score/cap)).
  Pair (i, j) of active features: term = factor·table with factor = scale·a_{t,i}·a_{u,j}/(ρ_t ρ_u [r_q r_k]) and
  table = QK^Δ_h[i,j] = (R(Δ)·(g_q ⊙) fold_in(d_i)·W_Q^h)·((g_k ⊙) fold_in(d_j)·W_K^g), Δ = t − u (the positional
  table; for q/k-norm models its gains-only "proxy" form, the rms being frozen in the factor).
  Groups: 4 × 4 cells (query part × key part, parts features, b_dec, error, bias).
  OV, head h, destination t: A = softmax of the head's (capped, masked) scores; per source u and component c:
  write_c = A[t,u]·(fold_in(c)/ρ_u·W_V^g)·W_O^h; bias part b̃_V·W_O^h (b̃_V = b_V + b_ln·W_V^g; Σ_u A = 1). For
  a post-attention norm (Gemma 2/3): ρ′_t = sqrt(mean(o_t²) + eps) of the whole attention output o_t = Σ_h z_t^h
  W_O^h + b_O, frozen; every write is divided by ρ′_t. Output feature j reads fold_out(e_j) = ((e_j − mean(e_j)) if
  the output SAE is centred) ⊙ g_post (e_j: column j of the output SAE's W_enc; no g_post without a post-norm);
  term(u, c, j) = write_c·fold_out(e_j)/ρ′_t; for features term = A[t,u]·a_{u,i}/(ρ_u ρ′_t)·OV_h[i,j] with
  OV_h[i,j] = (fold_in(d_i)·W_V^g)·(fold_out(e_j)·W_O^hᵀ). Without an output SAE the readers are the residual
  coordinates (fold_out(unit_j) = g_post[j]·unit_j). The sum over terms = head h's own (z_t^h·W_O^h/ρ′_t)·fold_out(e_j).
  Ranking: |term| descending, ties by (query/value feature, key/output feature, source position) ascending.

Output (attribution.json): per case, the inputs (model folder, layer, SAE paths), rho, activations, and
  qk: every head and every attended (t, u): score, capped, total, the 16 cells, the top 8 pairs
  (q, k, term, table, factor) and the share of the score the top 8 explain;
  ov: every head at two destinations: top 8 (u, i, j, term, table, factor) triples and, for the 4 output features the
  head writes most (|model contribution|), the 4 parts, the total and the model's contribution.
  planted: tiny-gemma2 L1H1 with the layer input built to fire query feature 17 at position 5 and key feature 42 at
  position 2 (X[5] += 8·d_17, X[2] += 8·d_42 on the prompt's rows).
"""
import json
import math
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
OUT = os.path.join(HERE, "attribution.json")
TOP = 8
PLANT = 8.0  # how far the planted rows are pushed along d_17 (query, position 5) and d_42 (key, position 2)
PARTS = ["features", "b_dec", "error", "bias"]

CASES = [
    # key, forward.json key, model folder, layer, input SAE, output SAE
    ("gemma2", "gemma2", "tiny-gemma2", 1, "tiny-gemma-scope/layer_0/width_128/average_l0_12",
     "tiny-gemma-scope/layer_1/width_96/average_l0_9"),
    ("gpt2", "gpt2", "tiny-gpt2", 1, "tiny-saelens/blocks.1.hook_resid_pre", "tiny-saelens/blocks.1.hook_resid_post"),
    ("gemma3", "gemma3", "tiny-gemma3", 3, "tiny-gemma-scope-2/resid_post/layer_2_width_128_l0_small",
     "tiny-gemma-scope-2/resid_post/layer_3_width_96_l0_small"),
    ("qwen3", "qwen3", "tiny-qwen3", 1, "tiny-saelens-qwen3/blocks.1.hook_resid_pre",
     "tiny-saelens-qwen3/blocks.1.hook_resid_post"),
]


# ----------------------------------------------------------------------------- reading
def read_safetensors(path):
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


def read_folder(folder):
    path = os.path.join(DATA, folder)
    idx = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for fn in files:
        out.update(read_safetensors(os.path.join(path, fn)))
    return out


def load_sae(rel):
    """W_enc [d, n], W_dec [n, d], b_enc, b_dec, threshold or None; kind; apply_b_dec; centred."""
    path = os.path.join(DATA, rel)
    if os.path.exists(os.path.join(path, "params.npz")):
        z = np.load(os.path.join(path, "params.npz"))
        t = {k: z[k].astype(np.float64) for k in z.files}
        return dict(W_enc=t["W_enc"], W_dec=t["W_dec"], b_enc=t["b_enc"], b_dec=t["b_dec"], threshold=t["threshold"],
                    kind="jumprelu", apply_b_dec=False, centred=False)
    if os.path.exists(os.path.join(path, "params.safetensors")):  # Gemma Scope 2
        t = read_safetensors(os.path.join(path, "params.safetensors"))
        return dict(W_enc=t["w_enc"], W_dec=t["w_dec"], b_enc=t["b_enc"], b_dec=t["b_dec"], threshold=t["threshold"],
                    kind="jumprelu", apply_b_dec=False, centred=False)
    with open(os.path.join(path, "cfg.json")) as f:
        cfg = json.load(f)
    t = read_safetensors(os.path.join(path, "sae_weights.safetensors"))
    arch = cfg["architecture"]
    assert arch in ("standard", "jumprelu"), arch
    kw = (cfg.get("metadata") or {}).get("model_from_pretrained_kwargs") or {}
    return dict(W_enc=t["W_enc"], W_dec=t["W_dec"], b_enc=t["b_enc"], b_dec=t["b_dec"], threshold=t.get("threshold"),
                kind="jumprelu" if arch == "jumprelu" else "relu", apply_b_dec=cfg.get("apply_b_dec_to_input", True),
                centred=bool(kw.get("center_writing_weights", False)))


def encode(sae, X):
    x = X - X.mean(axis=1, keepdims=True) if sae["centred"] else X
    pre = (x - sae["b_dec"] if sae["apply_b_dec"] else x) @ sae["W_enc"] + sae["b_enc"]
    if sae["kind"] == "jumprelu":
        return np.where(pre > sae["threshold"][None, :], pre, 0.0)
    return np.maximum(pre, 0.0)


# ----------------------------------------------------------------------------- the layer
def rope_matrix(pos, inv):
    """R(pos) acting on a row vector v as v·R (rotate-half: pair j with j + d/2)."""
    dh = 2 * len(inv)
    R = np.zeros((dh, dh))
    for j, f in enumerate(inv):
        c, s = math.cos(pos * f), math.sin(pos * f)
        a, b = j, j + dh // 2
        # (x_a, x_b) -> (x_a c − x_b s, x_b c + x_a s)
        R[a, a], R[b, a] = c, -s
        R[b, b], R[a, b] = c, s
    return R


def inv_freq(cfg, layer, dh):
    mt = cfg["model_type"]
    if mt == "gpt2":
        return None
    if mt == "gemma3_text":
        types = cfg["layer_types"]
        if types[layer] == "sliding_attention":
            base = cfg["rope_local_base_freq"]
            return np.array([base ** (-2.0 * j / dh) for j in range(dh // 2)])
        inv = np.array([cfg["rope_theta"] ** (-2.0 * j / dh) for j in range(dh // 2)])
        sc = cfg.get("rope_scaling") or {}
        assert sc.get("rope_type", sc.get("type")) in (None, "linear"), sc
        return inv / float(sc.get("factor", 1.0))
    assert not cfg.get("rope_scaling"), cfg.get("rope_scaling")
    return np.array([cfg["rope_theta"] ** (-2.0 * j / dh) for j in range(dh // 2)])


class Layer:
    """One attention layer's weights in float64, TransformerLens-style per-head blocks."""

    def __init__(self, folder, layer):
        with open(os.path.join(DATA, folder, "config.json")) as f:
            cfg = json.load(f)
        cfg = cfg.get("text_config", cfg)
        self.cfg = cfg
        w = read_folder(folder)
        mt = cfg["model_type"]
        self.gpt2 = mt == "gpt2"
        gemma = mt in ("gemma2", "gemma3_text")
        if self.gpt2:
            d, H = cfg["n_embd"], cfg["n_head"]
            KV, dh, eps = H, d // H, cfg["layer_norm_epsilon"]
            p = f"h.{layer}."
            W = w[p + "attn.c_attn.weight"]
            bb = w[p + "attn.c_attn.bias"]
            self.WQ, self.WK, self.WV = W[:, :d], W[:, d:2 * d], W[:, 2 * d:]
            self.bQ, self.bK, self.bV = bb[:d], bb[d:2 * d], bb[2 * d:]
            self.WO, self.bO = w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"]
            self.g_in, self.b_ln = w[p + "ln_1.weight"], w[p + "ln_1.bias"]
            self.scale = 1.0 / math.sqrt(dh)
            self.softcap, self.window, self.g_post, self.gq, self.gk = None, None, None, None, None
        else:
            d, H = cfg["hidden_size"], cfg["num_attention_heads"]
            KV = cfg["num_key_value_heads"]
            dh = cfg.get("head_dim") or d // H
            eps = cfg["rms_norm_eps"]
            p = f"model.layers.{layer}."

            def gain(n):
                return 1.0 + w[n] if gemma else w[n]

            self.WQ = w[p + "self_attn.q_proj.weight"].T
            self.WK = w[p + "self_attn.k_proj.weight"].T
            self.WV = w[p + "self_attn.v_proj.weight"].T
            self.WO = w[p + "self_attn.o_proj.weight"].T
            self.bQ = w.get(p + "self_attn.q_proj.bias", np.zeros(H * dh))
            self.bK = w.get(p + "self_attn.k_proj.bias", np.zeros(KV * dh))
            self.bV = w.get(p + "self_attn.v_proj.bias", np.zeros(KV * dh))
            self.bO = w.get(p + "self_attn.o_proj.bias", np.zeros(d))
            self.g_in, self.b_ln = gain(p + "input_layernorm.weight"), None
            self.g_post = gain(p + "post_attention_layernorm.weight") if gemma else None
            has_qk = p + "self_attn.q_norm.weight" in w
            self.gq = gain(p + "self_attn.q_norm.weight") if has_qk else None
            self.gk = gain(p + "self_attn.k_norm.weight") if has_qk else None
            self.scale = (cfg["query_pre_attn_scalar"] if gemma else dh) ** -0.5
            self.softcap = cfg.get("attn_logit_softcapping") if mt == "gemma2" else None
            types = cfg.get("layer_types") or (
                ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(cfg["num_hidden_layers"])]
                if mt == "gemma2" else ["full_attention"] * cfg["num_hidden_layers"])
            self.window = cfg["sliding_window"] if types[layer] == "sliding_attention" else None
        self.d, self.H, self.KV, self.dh, self.eps, self.layer = d, H, KV, dh, eps, layer
        self.inv = inv_freq(cfg, layer, dh)

    def kv(self, h):
        return h // (self.H // self.KV)

    def rho(self, x):
        if self.gpt2:
            return math.sqrt(((x - x.mean()) ** 2).mean() + self.eps)
        return math.sqrt((x * x).mean() + self.eps)

    def fold_in(self, c):
        return (c - c.mean()) * self.g_in if self.gpt2 else c * self.g_in

    def block(self, M, h):
        return M[:, h * self.dh:(h + 1) * self.dh]

    def bias_tilde(self, W, b, h):
        bt = b[h * self.dh:(h + 1) * self.dh].copy()
        if self.b_ln is not None:
            bt = bt + self.b_ln @ self.block(W, h)
        return bt

    def R(self, pos):
        return np.eye(self.dh) if self.inv is None else rope_matrix(pos, self.inv)

    def allowed(self, t, u):
        return u <= t and (self.window is None or u > t - self.window)

    def direct(self, X):
        """The model's own attention on X, float64: q, k (normed, rotated), scores, capped, pattern, z, o, rho'."""
        T = X.shape[0]
        normed = np.stack([self.fold_in(x) / self.rho(x) for x in X])
        if self.b_ln is not None:
            normed = normed + self.b_ln
        q = (normed @ self.WQ + self.bQ).reshape(T, self.H, self.dh)
        k = (normed @ self.WK + self.bK).reshape(T, self.KV, self.dh)
        v = (normed @ self.WV + self.bV).reshape(T, self.KV, self.dh)
        q_pre, k_pre = q.copy(), k.copy()
        if self.gq is not None:
            q = q / np.sqrt((q * q).mean(-1, keepdims=True) + self.eps) * self.gq
            k = k / np.sqrt((k * k).mean(-1, keepdims=True) + self.eps) * self.gk
        qr = np.stack([q[t] @ self.R(t) for t in range(T)])
        kr = np.stack([k[t] @ self.R(t) for t in range(T)])
        scores = np.full((self.H, T, T), np.nan)
        capped = np.full((self.H, T, T), np.nan)
        pattern = np.zeros((self.H, T, T))
        z = np.zeros((T, self.H, self.dh))
        for h in range(self.H):
            g = self.kv(h)
            for t in range(T):
                us = [u for u in range(T) if self.allowed(t, u)]
                s = np.array([self.scale * qr[t, h] @ kr[u, g] for u in us])
                c = np.tanh(s / self.softcap) * self.softcap if self.softcap else s
                e = np.exp(c - c.max())
                pattern[h, t, us] = e / e.sum()
                scores[h, t, us], capped[h, t, us] = s, c
                z[t, h] = pattern[h, t] @ v[:, g]
        o = z.reshape(T, -1) @ self.WO + self.bO
        rho_p = np.array([math.sqrt((r * r).mean() + self.eps) for r in o]) if self.g_post is not None else np.ones(T)
        return dict(q_pre=q_pre, k_pre=k_pre, scores=scores, capped=capped, pattern=pattern, z=z, o=o, rho_p=rho_p)


# ----------------------------------------------------------------------------- attribution
def components(sae, X, A):
    """Per position: list of (part, feature, vector) summing to the row."""
    out = []
    for t, x in enumerate(X):
        comps = [("features", int(i), A[t, i] * sae["W_dec"][i]) for i in np.nonzero(A[t])[0]]
        recon = A[t] @ sae["W_dec"] + sae["b_dec"]
        comps.append(("b_dec", -1, sae["b_dec"].copy()))
        comps.append(("error", -1, x - recon))
        assert np.allclose(sum(c[2] for c in comps), x, rtol=0, atol=1e-9)
        out.append(comps)
    return out


def side(L, W, b, gains, X, comps, pos, h, actual):
    """Query (or key) side vectors of every component at pos, normed and rotated; and the frozen rms."""
    rho = L.rho(X[pos])
    vecs = [(p, f, L.fold_in(c) / rho @ L.block(W, h)) for p, f, c in comps[pos]]
    vecs.append(("bias", -1, L.bias_tilde(W, b, h)))
    total = sum(v for _, _, v in vecs)
    assert np.allclose(total, actual, rtol=0, atol=1e-9 * (1 + np.abs(actual).max()))
    r = 1.0
    if gains is not None:
        r = math.sqrt((total * total).mean() + L.eps)
        vecs = [(p, f, v * gains / r) for p, f, v in vecs]
    R = L.R(pos)
    return [(p, f, v @ R) for p, f, v in vecs], rho, r


def table_vector(L, W, gains, sae, i, h):
    v = L.fold_in(sae["W_dec"][i]) @ L.block(W, h)
    return v * gains if gains is not None else v


def qk_case(L, sae, X, A, comps, direct, h, t, u):
    g = L.kv(h)
    qs, rho_t, rq = side(L, L.WQ, L.bQ, L.gq, X, comps, t, h, direct["q_pre"][t, h])
    ks, rho_u, rk = side(L, L.WK, L.bK, L.gk, X, comps, u, g, direct["k_pre"][u, g])
    cells = {(a, b): 0.0 for a in PARTS for b in PARTS}
    pairs = []
    for pa, fa, qa in qs:
        for pb, fb, kb in ks:
            term = L.scale * float(qa @ kb)
            cells[(pa, pb)] += term
            if pa == "features" and pb == "features":
                pairs.append((fa, fb, term))
    total = math.fsum(cells.values())
    score = float(direct["scores"][h, t, u])
    assert abs(total - score) <= 1e-10 * (1 + abs(score)), (total, score)
    pairs.sort(key=lambda p: (-abs(p[2]), p[0], p[1]))
    top = []
    Rd = L.R(t - u)
    for fa, fb, term in pairs[:TOP]:
        table = float(table_vector(L, L.WQ, L.gq, sae, fa, h) @ Rd @ table_vector(L, L.WK, L.gk, sae, fb, g))
        factor = L.scale * A[t, fa] * A[u, fb] / (rho_t * rho_u * rq * rk)
        assert abs(factor * table - term) <= 1e-9 * (1 + abs(term)), (factor * table, term)
        top.append({"q": fa, "k": fb, "term": term, "table": table, "factor": factor})
    return {"head": h, "t": t, "u": u, "score": score, "capped": float(direct["capped"][h, t, u]), "total": total,
            "cells": {f"{a}x{b}": cells[(a, b)] for a in PARTS for b in PARTS},
            "pairs": top, "share_top": math.fsum(p["term"] for p in top) / score,
            "n_pairs": len(pairs)}


def readers(L, sae_out):
    """fold_out rows [n_out, d]: encoder columns (centred if the SAE is), ⊙ g_post; or residual coordinates."""
    if sae_out is None:
        E = np.eye(L.d)
    else:
        E = sae_out["W_enc"].T.copy()
        if sae_out["centred"]:
            E = E - E.mean(axis=1, keepdims=True)
    return E * L.g_post if L.g_post is not None else E


def ov_case(L, sae, sae_out, X, A, comps, direct, h, t):
    g = L.kv(h)
    P = readers(L, sae_out)
    WOh = L.WO[h * L.dh:(h + 1) * L.dh]
    rp = direct["rho_p"][t]
    pat = direct["pattern"][h, t]
    terms = []  # (part, u, i, vector over outputs)
    for u in range(X.shape[0]):
        if pat[u] == 0.0:
            continue
        rho_u = L.rho(X[u])
        for p, f, c in comps[u]:
            write = pat[u] * (L.fold_in(c) / rho_u @ L.block(L.WV, g)) @ WOh / rp
            terms.append((p, u, f, write @ P.T))
    bias_write = L.bias_tilde(L.WV, L.bV, g) @ WOh / rp * pat.sum()
    terms.append(("bias", -1, -1, bias_write @ P.T))
    model = (direct["z"][t, h] @ WOh / rp) @ P.T
    total = sum(v for *_, v in terms)
    assert np.allclose(total, model, rtol=0, atol=1e-10 * (1 + np.abs(model).max()))
    flat = []
    for p, u, f, vals in terms:
        if p == "features":
            for j, v in enumerate(vals):
                flat.append((f, j, u, float(v)))
    flat.sort(key=lambda e: (-abs(e[3]), e[0], e[1], e[2]))
    top = []
    for f, j, u, term in flat[:TOP]:
        v_i = L.fold_in(sae["W_dec"][f]) @ L.block(L.WV, g)
        p_j = P[j] @ WOh.T
        table = float(v_i @ p_j)
        factor = pat[u] * A[u, f] / (L.rho(X[u]) * rp)
        assert abs(factor * table - term) <= 1e-9 * (1 + abs(term))
        top.append({"u": u, "i": f, "j": j, "term": term, "table": table, "factor": factor})
    outs = sorted(range(P.shape[0]), key=lambda j: (-abs(model[j]), j))[:4]
    per_out = []
    for j in outs:
        parts = {p: math.fsum(float(vals[j]) for q, _, _, vals in terms if q == p) for p in PARTS}
        per_out.append({"j": j, "parts": parts, "total": math.fsum(parts.values()), "model": float(model[j])})
    return {"head": h, "t": t, "rho_prime": float(rp), "pairs": top, "outputs": per_out}


def run_case(fwd, key, fkey, folder, layer, sae_in_rel, sae_out_rel, X=None, heads=None, qk_positions=None,
             ov_dests=None, no_sae_write=False):
    L = Layer(folder, layer)
    if X is None:
        X = np.array(fwd[fkey]["layers"][layer]["resid_pre"], dtype=np.float64)
        X = X.astype(np.float32).astype(np.float64)
    sae = load_sae(sae_in_rel)
    sae_out = load_sae(sae_out_rel) if sae_out_rel else None
    A = encode(sae, X)
    comps = components(sae, X, A)
    direct = L.direct(X)
    # the direct layer agrees with forward.json where the input is forward.json's own row (rounded to float32)
    T = X.shape[0]
    heads = range(L.H) if heads is None else heads
    qk = []
    for h in heads:
        for t in range(T):
            for u in range(T):
                if L.allowed(t, u) and (qk_positions is None or (t, u) in qk_positions):
                    qk.append(qk_case(L, sae, X, A, comps, direct, h, t, u))
    ov = []
    for h in heads:
        for t in (ov_dests or [T - 1, T // 2]):
            ov.append(ov_case(L, sae, sae_out, X, A, comps, direct, h, t))
    res = {"folder": folder, "layer": layer, "sae_in": sae_in_rel, "sae_out": sae_out_rel, "T": T,
           "rho": [L.rho(x) for x in X], "rho_prime": direct["rho_p"].tolist(),
           "activations": [[[int(i), float(A[t, i])] for i in np.nonzero(A[t])[0]] for t in range(T)],
           "qk": qk, "ov": ov}
    if no_sae_write:
        res["ov_residual"] = [ov_case(L, sae, None, X, A, comps, direct, h, T - 1) for h in heads]
    ref_scores = fwd[fkey]["layers"][layer]["attn_scores"] if fkey else None
    worst = 0.0
    if ref_scores is not None and X is not None:
        for c in qk:
            ref = ref_scores[c["head"]][c["t"]][c["u"]]
            worst = max(worst, abs(c["capped"] - ref) / (1 + abs(ref)))
    return res, L, sae, A, worst


def main():
    with open(os.path.join(HERE, "forward.json")) as f:
        fwd = json.load(f)
    out = {"_about": "Independent float64 reference for QK/OV attribution on a prompt (datasets/reference/"
                     "attribution.py; its docstring states the maths). Inputs: forward.json's resid_pre rows of the "
                     "layer, rounded to float32. qk[]: head, t, u, score (before soft-cap), capped, total, cells "
                     "'QPARTxKPART', top pairs (q, k, term, table = QK^(t-u)_h[q,k], factor: term = factor*table), "
                     "share_top. ov[]: head, t, pairs (u, i, j, term, table = OV_h[i,j], factor), outputs (j, parts, "
                     "total, model). planted: tiny-gemma2 L1H1, rows 5 and 2 given +8*d_17 and +8*d_42.",
           "token_ids": fwd["token_ids"], "top": TOP}
    for key, fkey, folder, layer, si, so in CASES:
        res, L, sae, A, worst = run_case(fwd, key, fkey, folder, layer, si, so, no_sae_write=(key == "gemma2"))
        out[key] = res
        nact = [len(a) for a in res["activations"]]
        print(f"{key:7s} L{layer} active per position {nact} |score − forward.json| ≤ {worst:.2e}·(1+|s|)  "
              f"qk cases {len(res['qk'])}")
        assert worst < 1e-5, worst
    # planted: rows 5 and 2 of the gemma2 prompt pushed along d_17 and d_42
    X = np.array(fwd["gemma2"]["layers"][1]["resid_pre"]).astype(np.float32).astype(np.float64)
    sae = load_sae(CASES[0][4])
    X[5] += PLANT * sae["W_dec"][17]
    X[2] += PLANT * sae["W_dec"][42]
    X = X.astype(np.float32).astype(np.float64)
    res, L, sae, A, _ = run_case(fwd, "planted", None, "tiny-gemma2", 1, CASES[0][4], CASES[0][5], X=X, heads=[1],
                                 qk_positions=[(5, 2), (5, 3), (5, 5), (5, 0), (7, 2)], ov_dests=[5])
    res["planted"] = {"head": 1, "t": 5, "u": 2, "query": 17, "key": 42, "added": PLANT}
    res["rows"] = [[float(v) for v in r] for r in X]
    out["planted"] = res
    c = next(c for c in res["qk"] if (c["t"], c["u"]) == (5, 2))
    top = c["pairs"][0]
    ff = c["cells"]["featuresxfeatures"]
    print(f"planted L1H1 (5,2): a17 {A[5, 17]:.4f} a42 {A[2, 42]:.4f} top pair {top['q']}->{top['k']} term "
          f"{top['term']:.4f} of features×features {ff:.4f}, score {c['score']:.4f}")
    assert (top["q"], top["k"]) == (17, 42)
    text = json.dumps(out, separators=(",", ":"), allow_nan=False)
    with open(OUT, "w") as f:
        f.write(text + "\n")
    print("wrote", os.path.relpath(OUT, os.path.dirname(DATA)), len(text) + 1, "bytes")


if __name__ == "__main__":
    main()
