#!/usr/bin/python3
"""Independent float64 reference for Franco & Crovella on prompts (issue 14; kernel-ext/docs/math.md §17).

Run: /usr/bin/python3 datasets/reference/prompt_svd.py   (writes datasets/reference/prompt_svd.json)

Numpy only. The safetensors reader, norms, RoPE and masks are copied from forward.py (not imported); the forward pass
below is forward.py's, extended to keep what the decomposition needs (per-head z, MLP outputs, the pre-soft-cap
scores, the post-RoPE queries and keys). Nothing is read from Java's outputs.

For a layer L, query head h, query position t, key position u (key head g = h // (n_heads / n_kv_heads)):

  x̃_t = [x_t / ρ_t ; 1]   x_t = resid_pre of layer L; ρ_t = sqrt(var(x_t) + eps) (LayerNorm, biased variance) or
                          sqrt(mean(x_t²) + eps) (RMSNorm)
  Ã = [N·W_Q^h ; b̃_Q]    the affine map x̃_t ↦ q_t before any q_norm: N = C·diag(w) for LayerNorm (C centres),
                          diag(g) for RMSNorm; b̃_Q = b_Q + b_ln·W_Q^h (zero for models without biases)
  B̃ likewise for W_K^g.   q_norm/k_norm models (Gemma 3, Qwen3): q̂ = g_q ⊙ (x̃Ã)/r_q with r_q = sqrt(mean((x̃Ã)²)+eps)
                          frozen, so the gains go into Ã's columns (bias row too) and 1/(r_q r_k) into the coefficient.
  P = Rot_t · Rot_uᵀ     Rot_p = the matrix of this file's rope() at position p acting on rows (identity without RoPE),
                          built from the two positions, not from Δ; (q·Rot_t)·(k·Rot_u) = q·P·kᵀ.
  M = Ã·P·B̃ᵀ            dense (d_model+1)², numpy SVD, the first d_head triplets; sign: the largest-|entry| of u_k > 0.
  score = c·Σ_k σ_k (x̃_t·u_k)(x̃_u·v_k),  c = query scale / (r_q r_k)  (r = 1 without q/k norms)

The model's score is this file's forward pass's pre-soft-cap score (scale applied, Gemma 2's tanh cap not).
n90: the fewest terms, largest |term| first, whose |terms| reach 0.9·Σ|terms| (1e-12 relative allowance).

Residual split of x_t: embed (GPT-2 wte row; Gemma: embed row × float32(sqrt(d)); others: embed row), pos_embed (GPT-2
wpe row), for every upstream layer l < L each head's z^h·W_O^h (Gemma: divided by the RMS of the whole pre-norm
attention output Σ_h z^h W_O^h, times the post-attention gain), "Ll b_O" (GPT-2's c_proj.bias), "Ll MLP" (the MLP's
output as added to the residual). Each component's query factor (x_t^c/ρ_t)·u_k[:d] and key factor (x_u^c/ρ_u)·v_k[:d]
for the top n90 directions; "bias" is u_k[d] / v_k[d].

Output (prompt_svd.json), per model key: folder, model_type, layer, form, split_error (max |Σ parts − resid_pre| over
positions), pairs: for every head and every allowed (t, u) of layer L: head, t, u, score, total, coefficient, n90,
sigma, query, key [d_head] in k order (the term of k is coefficient·sigma·query·key; 12 significant digits); and for t = T−1 also components (names) and paths
{directions [k...] (largest |term| first), query [[factor per component] per direction], key [...]}.
"""
import json
import math
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
OUT = os.path.join(HERE, "prompt_svd.json")

TOKEN_IDS = [2, 17, 5, 33, 9, 41, 12, 60]
LAYER = 1
MODELS = [("gpt2", "tiny-gpt2"), ("gemma2", "tiny-gemma2"), ("gemma3", "tiny-gemma3"), ("qwen3", "tiny-qwen3"),
          ("llama3", "tiny-llama3")]


# ----------------------------------------------------------------------------- reading
def read_folder(folder):
    """All tensors of an HF model folder (model.safetensors, or the shards named by model.safetensors.index.json)."""
    path = os.path.join(DATA, folder)
    idx = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for fn in files:
        with open(os.path.join(path, fn), "rb") as f:
            blob = f.read()
        (n,) = struct.unpack_from("<Q", blob, 0)
        header = json.loads(blob[8:8 + n].decode("utf-8"))
        base = 8 + n
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
                raise ValueError(f"{folder}/{fn} {name}: dtype {t['dtype']}")
            assert name not in out, name
            out[name] = arr.reshape(t["shape"])
    return out


# ----------------------------------------------------------------------------- pieces
def layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def rms_norm(x, gain, eps):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * gain


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def softmax_masked(scores, allowed):
    """Row softmax over allowed entries; masked entries exactly 0."""
    s = np.where(allowed, scores, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    e = np.where(allowed, np.exp(s - m), 0.0)
    return e / e.sum(axis=-1, keepdims=True)


def inv_freq(theta, dh, scaling=None):
    inv = np.array([1.0 / (float(theta) ** ((2.0 * j) / dh)) for j in range(dh // 2)])
    kind = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if kind == "default":
        return inv
    if kind == "linear":
        return inv / float(scaling["factor"])
    if kind == "llama3":
        factor, low, high = (float(scaling[k]) for k in ("factor", "low_freq_factor", "high_freq_factor"))
        orig = float(scaling["original_max_position_embeddings"])
        out = np.empty_like(inv)
        for j, f in enumerate(inv):
            wl = 2.0 * math.pi / f
            if wl < orig / high:
                out[j] = f
            elif wl > orig / low:
                out[j] = f / factor
            else:
                smooth = (orig / wl - low) / (high - low)
                out[j] = (1.0 - smooth) * f / factor + smooth * f
        return out
    raise ValueError(f"rope_type {kind}")


def rope(x, inv):
    """x [n, T, d_head]; rotate-half: out = x·cos + rotate_half(x)·sin, rotate_half(a|b) = (−b|a)."""
    T = x.shape[1]
    ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
    cos = np.concatenate([np.cos(ang)] * 2, axis=-1)
    sin = np.concatenate([np.sin(ang)] * 2, axis=-1)
    half = x.shape[-1] // 2
    rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rot * sin


def allowed_mask(T, window=None):
    i = np.arange(T)[:, None]
    j = np.arange(T)[None, :]
    ok = j <= i
    if window is not None:
        ok &= j > i - window
    return ok



# ----------------------------------------------------------------------------- forward (as forward.py, keeping more)
def attend(q, k, v, scale, allowed, softcap=None):
    """q [H,T,dh], k/v [KV,T,dh] -> (pre-cap scores [H,T,T], z [H,T,dh])."""
    H, KV = q.shape[0], k.shape[0]
    grp = H // KV
    kk = np.stack([k[h // grp] for h in range(H)])
    vv = np.stack([v[h // grp] for h in range(H)])
    raw = np.einsum("htd,hsd->hts", q, kk) * scale
    capped = np.tanh(raw / softcap) * softcap if softcap else raw
    pattern = softmax_masked(capped, allowed[None])
    return raw, np.einsum("hts,hsd->htd", pattern, vv)


def forward_gpt2(cfg, w, ids):
    d, H = cfg["n_embd"], cfg["n_head"]
    dh, eps, T = d // H, cfg["layer_norm_epsilon"], len(ids)
    tok, pos = w["wte.weight"][ids], w["wpe.weight"][np.arange(T)]
    h = tok + pos
    allowed = allowed_mask(T)
    layers = []
    for L in range(cfg["n_layer"]):
        p = f"h.{L}."
        pre = h
        a = layer_norm(h, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (qkv[:, i * d:(i + 1) * d].reshape(T, H, dh).transpose(1, 0, 2) for i in range(3))
        raw, z = attend(q, k, v, 1.0 / math.sqrt(dh), allowed)
        wo = w[p + "attn.c_proj.weight"]
        heads = [z[hh] @ wo[hh * dh:(hh + 1) * dh] for hh in range(H)]
        bo = np.tile(w[p + "attn.c_proj.bias"], (T, 1))
        mid = h + sum(heads) + bo
        m = layer_norm(mid, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        mlp = gelu_tanh(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]) @ w[p + "mlp.c_proj.weight"] \
            + w[p + "mlp.c_proj.bias"]
        h = mid + mlp
        layers.append({"pre": pre, "raw": raw, "allowed": allowed, "heads": heads, "b_O": bo, "mlp": mlp})
    return layers, [("embed", tok), ("pos_embed", pos)]


def layer_types(cfg):
    n = cfg["num_hidden_layers"]
    if cfg.get("layer_types"):
        return list(cfg["layer_types"])
    if cfg["model_type"] == "gemma2":
        return ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(n)]
    return ["full_attention"] * n


def decoder_setup(cfg):
    mt = cfg["model_type"]
    gemma = mt in ("gemma2", "gemma3_text")
    d, H = cfg["hidden_size"], cfg["num_attention_heads"]
    dh = cfg.get("head_dim") or d // H
    return mt, gemma, d, dh


def layer_inv_freq(cfg, L):
    mt, gemma, d, dh = decoder_setup(cfg)
    if mt == "gemma3_text" and layer_types(cfg)[L] == "sliding_attention":
        return inv_freq(cfg["rope_local_base_freq"], dh)
    return inv_freq(cfg["rope_theta"], dh, cfg.get("rope_scaling"))


def forward_decoder(cfg, w, ids):
    mt, gemma, d, dh = decoder_setup(cfg)
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    eps, T = cfg["rms_norm_eps"], len(ids)
    types = layer_types(cfg)
    act = gelu_tanh if gemma else silu

    def gain(name):
        return 1.0 + w[name] if gemma else w[name]

    def lin(x, name):
        return x @ w[name].T

    h = w["model.embed_tokens.weight"][ids]
    if gemma:
        h = h * float(np.float32(math.sqrt(d)))
    tok = h
    scale = (cfg["query_pre_attn_scalar"] if gemma else dh) ** -0.5
    softcap = cfg.get("attn_logit_softcapping") if mt == "gemma2" else None
    layers = []
    for L in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{L}."
        sliding = types[L] == "sliding_attention"
        inv = layer_inv_freq(cfg, L)
        allowed = allowed_mask(T, cfg["sliding_window"] if sliding else None)
        pre = h
        a = rms_norm(h, gain(p + "input_layernorm.weight"), eps)
        q = lin(a, p + "self_attn.q_proj.weight").reshape(T, H, dh).transpose(1, 0, 2)
        k = lin(a, p + "self_attn.k_proj.weight").reshape(T, KV, dh).transpose(1, 0, 2)
        v = lin(a, p + "self_attn.v_proj.weight").reshape(T, KV, dh).transpose(1, 0, 2)
        if p + "self_attn.q_norm.weight" in w:
            q = rms_norm(q, gain(p + "self_attn.q_norm.weight"), eps)
            k = rms_norm(k, gain(p + "self_attn.k_norm.weight"), eps)
        q, k = rope(q, inv), rope(k, inv)
        raw, z = attend(q, k, v, scale, allowed, softcap)
        wo = w[p + "self_attn.o_proj.weight"].T  # [H·dh, d]
        heads = [z[hh] @ wo[hh * dh:(hh + 1) * dh] for hh in range(H)]
        attn_out = sum(heads)
        if gemma:
            # post-attention RMSNorm with its per-token scale frozen: linear in the heads
            r = np.sqrt((attn_out * attn_out).mean(axis=-1, keepdims=True) + eps)
            g = gain(p + "post_attention_layernorm.weight")
            heads = [hd / r * g for hd in heads]
            mid = h + rms_norm(attn_out, g, eps)
            m = rms_norm(mid, gain(p + "pre_feedforward_layernorm.weight"), eps)
        else:
            mid = h + attn_out
            m = rms_norm(mid, gain(p + "post_attention_layernorm.weight"), eps)
        mlp = lin(act(lin(m, p + "mlp.gate_proj.weight")) * lin(m, p + "mlp.up_proj.weight"),
                  p + "mlp.down_proj.weight")
        if gemma:
            mlp = rms_norm(mlp, gain(p + "post_feedforward_layernorm.weight"), eps)
        h = mid + mlp
        layers.append({"pre": pre, "raw": raw, "allowed": allowed, "heads": heads, "b_O": None, "mlp": mlp})
    return layers, [("embed", tok)]


# ----------------------------------------------------------------------------- the head's affine maps
def qk_maps(cfg, w, L, head):
    """(Ã, B̃, Ã without q-norm gains, B̃ without, q gain or None, k gain or None, scale, eps, layer norm?)."""
    if cfg["model_type"] == "gpt2":
        d, H = cfg["n_embd"], cfg["n_head"]
        dh = d // H
        p = f"h.{L}."
        W = w[p + "attn.c_attn.weight"]
        bias = w[p + "attn.c_attn.bias"]
        lw, lb = w[p + "ln_1.weight"], w[p + "ln_1.bias"]
        C = np.eye(d) - np.ones((d, d)) / d
        out = []
        for off in (0, d):
            Wh = W[:, off + head * dh:off + (head + 1) * dh]
            bh = bias[off + head * dh:off + (head + 1) * dh] + lb @ Wh
            out.append(np.vstack([C @ np.diag(lw) @ Wh, bh[None, :]]))
        return out[0], out[1], out[0], out[1], None, None, 1.0 / math.sqrt(dh), cfg["layer_norm_epsilon"], True
    mt, gemma, d, dh = decoder_setup(cfg)
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    g = head // (H // KV)
    p = f"model.layers.{L}."

    def gain(name):
        return 1.0 + w[name] if gemma else w[name]

    n = gain(p + "input_layernorm.weight")
    Wq = w[p + "self_attn.q_proj.weight"].T[:, head * dh:(head + 1) * dh]
    Wk = w[p + "self_attn.k_proj.weight"].T[:, g * dh:(g + 1) * dh]
    a0 = np.vstack([n[:, None] * Wq, np.zeros((1, dh))])
    b0 = np.vstack([n[:, None] * Wk, np.zeros((1, dh))])
    gq = gk = None
    if p + "self_attn.q_norm.weight" in w:
        gq, gk = gain(p + "self_attn.q_norm.weight"), gain(p + "self_attn.k_norm.weight")
    a = a0 * gq[None, :] if gq is not None else a0
    b = b0 * gk[None, :] if gk is not None else b0
    scale = (cfg["query_pre_attn_scalar"] if gemma else dh) ** -0.5
    return a, b, a0, b0, gq, gk, scale, cfg["rms_norm_eps"], False


def rot_matrix(cfg, L, pos, dh):
    """Rot_p: q_row · Rot_p = rope(q_row) at position p (identity for GPT-2)."""
    if cfg["model_type"] == "gpt2":
        return np.eye(dh)
    inv = layer_inv_freq(cfg, L)
    T = pos + 1
    eye = np.eye(dh)
    # rope() acts on [n, T, dh]; position pos of a sequence of T rows, each row a basis vector
    rows = np.stack([np.tile(e, (T, 1)) for e in eye])  # [dh, T, dh]
    return rope(rows, inv)[:, pos, :]


def n_carrying(values, share):
    a = sorted((abs(v) for v in values), reverse=True)
    total = math.fsum(a)
    acc = 0.0
    for i, v in enumerate(a):
        acc += v
        if acc >= share * total - 1e-12 * total:
            return i + 1
    return len(a)


# ----------------------------------------------------------------------------- one model
def run(key, folder):
    with open(os.path.join(DATA, folder, "config.json")) as f:
        cfg = json.load(f)
    cfg = cfg.get("text_config", cfg)
    w = read_folder(folder)
    ids = np.array(TOKEN_IDS)
    gpt2 = cfg["model_type"] == "gpt2"
    layers, embeds = (forward_gpt2 if gpt2 else forward_decoder)(cfg, w, ids)
    T, L = len(ids), LAYER
    lay = layers[L]
    x = lay["pre"]
    # residual split
    names, parts = [n for n, _ in embeds], [e for _, e in embeds]
    for l in range(L):
        for hh, hd in enumerate(layers[l]["heads"]):
            names.append(f"L{l}H{hh}")
            parts.append(hd)
        if layers[l]["b_O"] is not None:
            names.append(f"L{l} b_O")
            parts.append(layers[l]["b_O"])
        names.append(f"L{l} MLP")
        parts.append(layers[l]["mlp"])
    split_error = float(np.abs(sum(parts) - x).max())
    assert split_error < 1e-12 * max(1.0, float(np.abs(x).max())), (key, split_error)
    H = len(lay["raw"])
    pairs = []
    forms = set()
    worst = 0.0
    min_gap = math.inf
    for head in range(H):
        a, b, a0, b0, gq, gk, scale, eps, is_ln = qk_maps(cfg, w, L, head)
        dh = a.shape[1]

        def rho(v):
            c = v - v.mean() if is_ln else v
            return math.sqrt(float((c * c).mean()) + eps)

        for t in range(T):
            for u in range(T):
                if not lay["allowed"][t, u]:
                    continue
                xt = np.append(x[t] / rho(x[t]), 1.0)
                xu = np.append(x[u] / rho(x[u]), 1.0)
                coef = scale
                if gq is not None:
                    qp, kp = xt @ a0, xu @ b0
                    coef = scale / (math.sqrt(float((qp * qp).mean()) + eps) * math.sqrt(float((kp * kp).mean()) + eps))
                P = rot_matrix(cfg, L, t, dh) @ rot_matrix(cfg, L, u, dh).T
                M = a @ P @ b.T
                U, S, Vt = np.linalg.svd(M)
                U, S, V = U[:, :dh], S[:dh], Vt[:dh].T
                for kk in range(dh):
                    i = int(np.argmax(np.abs(U[:, kk])))
                    if U[i, kk] < 0:
                        U[:, kk], V[:, kk] = -U[:, kk], -V[:, kk]
                gaps = np.abs(np.diff(S)) / S[0]
                min_gap = min(min_gap, float(gaps.min()))
                qf, kf = xt @ U, xu @ V
                vals = coef * S * qf * kf
                total = math.fsum(vals)
                score = float(lay["raw"][head, t, u])
                worst = max(worst, abs(total - score) / max(abs(score), 1e-300))
                rec = {"head": head, "t": t, "u": u, "score": r12(score), "total": r12(total),
                       "coefficient": r12(coef), "n90": n_carrying(vals, 0.9),
                       "sigma": [r12(v) for v in S], "query": [r12(v) for v in qf], "key": [r12(v) for v in kf]}
                if t == T - 1:
                    order = sorted(range(dh), key=lambda kk: (-abs(vals[kk]), kk))[:rec["n90"]]
                    rq = rho(x[t])
                    ru = rho(x[u])
                    qrows, krows = [], []
                    for kk in order:
                        qrow = [float(pt[t] @ U[:d_of(cfg), kk] / rq) for pt in parts] + [float(U[-1, kk])]
                        krow = [float(pt[u] @ V[:d_of(cfg), kk] / ru) for pt in parts] + [float(V[-1, kk])]
                        # each side's parts add up to its full factor
                        assert abs(math.fsum(qrow) - qf[kk]) <= 1e-9 * (1 + abs(qf[kk])), (key, head, t, u, kk)
                        assert abs(math.fsum(krow) - kf[kk]) <= 1e-9 * (1 + abs(kf[kk])), (key, head, t, u, kk)
                        qrows.append([r12(v) for v in qrow])
                        krows.append([r12(v) for v in krow])
                    rec["paths"] = {"directions": order, "query": qrows, "key": krows}
                pairs.append(rec)
        forms.add(("rope" if cfg["model_type"] != "gpt2" else "bilinear") + ("+qk_rms_frozen" if gq is not None else ""))
    assert len(forms) == 1
    return {"folder": folder, "model_type": cfg["model_type"], "layer": L, "form": forms.pop(),
            "split_error": split_error, "components": names + ["bias"], "pairs": pairs}, worst, min_gap


def r12(v):
    """12 significant digits (the Java tests allow 2e-5·(1 + |v|))."""
    return float(f"{float(v):.12g}")


def d_of(cfg):
    return cfg.get("n_embd") or cfg["hidden_size"]


def main():
    out = {"_about": "Independent float64 reference for a head's score split over its singular directions on a prompt "
                     "and the upstream components' shares of the factors (datasets/reference/prompt_svd.py; its "
                     "docstring states the maths). Input token_ids, no BOS, positions 0..T-1, layer 1 of each model.",
           "token_ids": TOKEN_IDS}
    for key, folder in MODELS:
        res, worst, gap = run(key, folder)
        out[key] = res
        last = [p for p in res["pairs"] if "paths" in p]
        strongest = None
        for p in last:
            for i, kk in enumerate(p["paths"]["directions"]):
                for side, rows, other in (("query", p["paths"]["query"], p["key"][kk]),
                                          ("key", p["paths"]["key"], p["query"][kk])):
                    for c, f in enumerate(rows[i]):
                        contrib = p["coefficient"] * p["sigma"][kk] * f * other
                        name = res["components"][c]
                        if name.startswith("L") and "H" in name and (strongest is None or abs(contrib) > abs(strongest[0])):
                            strongest = (contrib, name, p["head"], p["t"], p["u"], kk, side)
        n90 = [p["n90"] for p in res["pairs"]]
        print(f"{key:7s} form {res['form']:22s} pairs {len(res['pairs'])} max |sum - score|/|score| {worst:.2e} "
              f"min sigma gap/sigma0 {gap:.2e} n90 mean {np.mean(n90):.2f} (of {len(res['pairs'][0]['sigma'])}) "
              f"split error {res['split_error']:.1e}")
        print(f"        strongest head path at t=T-1: {strongest[1]} -> L{LAYER}H{strongest[2]} "
              f"(t {strongest[3]}, u {strongest[4]}, k {strongest[5]}, {strongest[6]}) contribution {strongest[0]:.6g}")
    text = json.dumps(out, separators=(",", ":"), allow_nan=False)
    with open(OUT, "w") as f:
        f.write(text + "\n")
    print("wrote", os.path.relpath(OUT, os.path.dirname(DATA)), len(text) + 1, "bytes")


if __name__ == "__main__":
    main()
