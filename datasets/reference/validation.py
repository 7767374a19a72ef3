#!/usr/bin/python3
"""Independent float64 reference for SAE Lab's "weights vs behaviour" score validation (issue 14).

Run: /usr/bin/python3 datasets/reference/validation.py   (writes datasets/reference/validation.json)

Numpy only: its own safetensors reader (JSON header, little-endian F32 and BF16, BF16 widened exactly by a 16-bit
shift), npz through np.load(allow_pickle=False), its own SAE encoders, folds, RoPE and Spearman ρ, written from the
maths (nothing imported from SAE Lab, the generators or the other reference scripts; no scipy). Inputs: forward.json
(the float64 reference forward pass on TOKEN_IDS, see forward.py) for the recorded layer-1 resid_pre and the real
layer-1 pre-softmax attn_scores (null where masked), and the tiny models' weights and SAEs listed in CASES.

Question answered: how well do the QK weight tables of layer 1 predict the real attention scores of layer 1 on the
prompt, when each position is represented by its SAE's active features?

Vectors are rows. nn.Linear weights [out, in] are used as x·Wᵀ; GPT-2 Conv1D weights [in, out] as x·W.

1. Encoding (per position t of the layer-1 resid_pre x_t, float64; W_enc [d_in, d_sae], W_dec [d_sae, d_in]):
   - Gemma Scope JumpReLU (params.npz): pre = x·W_enc + b_enc; a = relu(pre)·[pre > threshold] (no b_dec
     subtraction; every threshold here is > 0, so this equals pre·[pre > threshold]).
   - SAELens standard (gpt2): x ← x − mean(x) (per position, over d_model: TransformerLens's centred stream,
     center_writing_weights true); if apply_b_dec_to_input, x ← x − b_dec; a = relu(x·W_enc + b_enc).
   - SAELens jumprelu (qwen3): centring and b_dec as cfg.json says (both off for the shipped cfg);
     a = relu(pre)·[pre > threshold].
   - SAELens topk (llama3): centring/b_dec as cfg.json says (b_dec subtracted, not centred); keep the k largest
     pre-activations (k = cfg "k"), ReLU them, all others 0. A tie at the k-th place would be ambiguous: asserted
     absent.
   Centring: cfg metadata.model_from_pretrained_kwargs.center_writing_weights (absent → false here).
   Reconstruction x̂ = a·W_dec + b_dec (in the SAE's own, possibly centred, space); printed sanity check: fraction
   of variance explained FVE = 1 − Σ_t |x_t − x̂_t|² / Σ_t |x_t − mean_t x|², cos(x_t, x̂_t) and |x̂_t|/|x_t|. The
   shipped SAEs are synthetic, not trained (W_enc ≈ c·W_decᵀ + noise, near-unit decoder rows; see
   datasets/generate*.py): x̂ points along x (cos 0.48–0.73, asserted > 0.4) but overshoots its length 1.3–5×, so
   FVE is negative (−1.3 … −11). That is the fixtures, not the encoder.

2. Folded feature projections, layer 1, every SAE feature f with decoder row d_f = W_dec[f]:
   fold(d) = the input norm's linear part, without the per-token 1/rms or 1/std scale and without LN's bias:
     Gemma 2: d ⊙ (1 + w), w = input_layernorm.weight (stored as an offset);  Llama 3 / Qwen3: d ⊙ w;
     GPT-2: (d − mean(d)) ⊙ ln_1.weight.
   Query head h, KV head g = h // (n_heads / n_kv_heads), d_head columns [h·d_head, (h+1)·d_head):
     HF: q_f = fold(d_f)·q_proj.weight[h rows]ᵀ, k_f = fold(d_f)·k_proj.weight[g rows]ᵀ;
     GPT-2: c_attn.weight [d_model, 3·d_model] split q | k | v, q_f = fold(d_f)·W[:, h cols], k_f likewise from
     the k block (GPT-2 has no grouped KV: g = h).
   Qwen3 (q_norm/k_norm), the "exact" table: each feature's head vector is normalised on its own,
     q_f ← g_q ⊙ q_f / sqrt(mean(q_f²) + eps) over d_head, g_q = q_norm.weight, eps = rms_norm_eps; k_f with
     k_norm.weight. (Gemma 2 and Llama 3 have no q/k norms.)
   Table QK_h[i, j] = q_i · k_j (no 1/sqrt(d_head) or query_pre_attn_scalar scale, no soft-cap: monotone, ρ-free).

3. Predictions for query position t and key position u ≤ t (positions 0 … T−1, as in forward.json):
     pred_h(t, u) = Σ_i Σ_j a[t,i] a[u,j] QK_h[i, j] = (Σ_i a[t,i] q_i) · (Σ_j a[u,j] k_j).
   RoPE models (gemma2, qwen3, llama3): predRope_h(t, u) = Σ_i Σ_j a[t,i] a[u,j] (R(t) q_i)·(R(u) k_j), rotate-half
   RoPE: dimension j pairs with j + d_head/2, angle pos·inv_freq_j, inv_freq_j = θ^(−2j/d_head) in float64,
   R(p)x = x·cos + rotate_half(x)·sin with rotate_half(a|b) = (−b|a). θ = rope_theta (tiny-gemma2's layer 1 is a
   global layer: θ = rope_theta unscaled); Llama 3 rope_scaling llama3: wavelen = 2π/inv_freq; wavelen <
   orig/high_freq_factor kept; wavelen > orig/low_freq_factor divided by factor; otherwise smooth =
   (orig/wavelen − low)/(high − low), inv = (1 − smooth)·inv/factor + smooth·inv. GPT-2: no RoPE, pred_rope null.

4. Agreement: real_h(t, u) = forward.json layers[1].attn_scores[h][t][u], the non-null entries only (u ≤ t; no
   sliding window bites at T = 8). Spearman ρ = Pearson correlation of the ranks, ranks 1-based with ties given
   their mean rank; null (NaN) with fewer than 3 pairs or a constant side. Per head over all pairs ("rho",
   "rho_rope"), and with position 0 left out as query and as key ("rho_skip_first", "rho_rope_skip_first"). Per
   head and distance band t − u ∈ {0}, {1}, [2, 3], [4, 7] (bands with at least one pair; all pairs, position 0
   kept).

Output (validation.json): _about, token_ids, and per case key (gemma2, gpt2, qwen3, llama3): model, sae, encoding
(architecture, apply_b_dec_to_input, centred, k or null), n_heads, n_kv_heads, d_head, fve, firing_margin (the smallest |pre − threshold|, |pre| for ReLU, or k-th gap / |pre| of a kept
feature for TopK: how far a float32 pipeline may drift before the active set changes), heads [{head, pairs,
rho, rho_rope, rho_skip_first, rho_rope_skip_first}], bands [{head, lo, hi, pairs, rho, rho_rope}], pred and
pred_rope [n_heads][T][T] (null where u > t; pred_rope null for gpt2), active [{position, features (ascending),
values (the nonzero activations), error_fraction = |x − x̂|² / |x − mean(x)·𝟙|² (mean over d_in, as
FeatureActivations.errorFraction), cos_reconstruction}]. NaN is written as null.

Plumbing check (asserted, not written): replacing Σ_i a[t,i] d_i by the full stream x_t (and, for GPT-2, adding
LN's bias and c_attn's bias, for all models applying the per-token norm scale, the per-head q/k norms on the whole
head vector, RoPE, the attention scale and Gemma 2's soft-cap) must reproduce forward.json's real scores to 1e-9:
this pins the fold, the weight slicing, the KV grouping and the RoPE convention used for the tables.
"""
import json
import math
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
OUT = os.path.join(HERE, "validation.json")
LAYER = 1
BANDS = [(0, 0), (1, 1), (2, 3), (4, 7)]
MIN_PAIRS = 3

# key in forward.json, model folder, SAE kind, SAE path
CASES = [
    ("gemma2", "tiny-gemma2", "gemma-scope", "tiny-gemma-scope/layer_0/width_128/average_l0_12/params.npz"),
    ("gpt2", "tiny-gpt2", "saelens", "tiny-saelens/blocks.1.hook_resid_pre"),
    ("qwen3", "tiny-qwen3", "saelens", "tiny-saelens-qwen3/blocks.1.hook_resid_pre"),
    ("llama3", "tiny-llama3", "saelens", "tiny-saelens-llama3/blocks.1.hook_resid_pre"),
]


# ----------------------------------------------------------------------------- reading
def read_safetensors(path):
    """{name: float64 array} of one .safetensors file (F32 or BF16 only)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        lo, hi = t["data_offsets"]
        raw = blob[base + lo:base + hi]
        if t["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        elif t["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        else:
            raise ValueError(f"{path} {name}: dtype {t['dtype']} not read here")
        out[name] = arr.reshape(t["shape"])
    return out


def read_model(folder):
    path = os.path.join(DATA, folder)
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    idx = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for fn in files:
        for k, v in read_safetensors(os.path.join(path, fn)).items():
            assert k not in w, k
            w[k] = v
    return cfg, w


def read_sae(kind, rel):
    """(params {W_enc, W_dec, b_enc, b_dec, threshold?}, encoding dict)."""
    path = os.path.join(DATA, rel)
    if kind == "gemma-scope":
        z = np.load(path, allow_pickle=False)
        p = {k: z[k].astype(np.float64) for k in z.files}
        enc = {"architecture": "jumprelu", "apply_b_dec_to_input": False, "centred": False, "k": None}
        return p, enc
    with open(os.path.join(path, "cfg.json")) as f:
        cfg = json.load(f)
    p = read_safetensors(os.path.join(path, "sae_weights.safetensors"))
    kwargs = (cfg.get("metadata") or {}).get("model_from_pretrained_kwargs") or {}
    assert cfg.get("normalize_activations", "none") == "none", rel
    enc = {"architecture": cfg["architecture"], "apply_b_dec_to_input": bool(cfg["apply_b_dec_to_input"]),
           "centred": bool(kwargs.get("center_writing_weights", False)), "k": cfg.get("k")}
    return p, enc


# ----------------------------------------------------------------------------- SAE
def encode(x, p, enc):
    """x [T, d_in] -> (a [T, d_sae], x as the SAE sees it [T, d_in])."""
    if enc["centred"]:
        x = x - x.mean(axis=1, keepdims=True)
    xin = x - p["b_dec"] if enc["apply_b_dec_to_input"] else x
    pre = xin @ p["W_enc"] + p["b_enc"]
    arch = enc["architecture"]
    if arch == "standard":
        a = np.maximum(pre, 0.0)
    elif arch == "jumprelu":
        assert (p["threshold"] > 0).all()
        a = np.maximum(pre, 0.0) * (pre > p["threshold"])
    elif arch == "topk":
        k = int(enc["k"])
        a = np.zeros_like(pre)
        for t in range(pre.shape[0]):
            order = np.argsort(-pre[t], kind="stable")
            assert pre[t, order[k - 1]] > pre[t, order[k]], f"tie at the k-th pre-activation, position {t}"
            keep = order[:k]
            a[t, keep] = np.maximum(pre[t, keep], 0.0)
    else:
        raise ValueError(arch)
    return a, x


def encode_margin(x, p, enc):
    """Smallest distance of a pre-activation from its firing decision (threshold, 0, or the k-th/k+1-th gap):
    how far a float32 pipeline may drift before a feature switches on or off."""
    xin = x - p["b_dec"] if enc["apply_b_dec_to_input"] else x
    pre = xin @ p["W_enc"] + p["b_enc"]
    if enc["architecture"] == "jumprelu":
        return float(np.abs(pre - p["threshold"]).min())
    if enc["architecture"] == "standard":
        return float(np.abs(pre).min())
    s = -np.sort(-pre, axis=1)
    k = int(enc["k"])
    return float(min((s[:, k - 1] - s[:, k]).min(), np.abs(s[:, :k]).min()))


def pred_gap(m):
    """Smallest relative gap between one head's sorted predictions (min over heads): rank robustness."""
    worst = float("inf")
    for h in range(m.shape[0]):
        v = np.sort(m[h][np.tril_indices(m.shape[1])])
        worst = min(worst, float(((v[1:] - v[:-1]) / (np.abs(v[1:]) + np.abs(v[:-1]))).min()))
    return worst


def reconstruction_stats(x, a, p):
    """(FVE over all positions, per-position cosine(x, x̂), per-position error fraction)."""
    xh = a @ p["W_dec"] + p["b_dec"]
    err = ((x - xh) ** 2).sum()
    tot = ((x - x.mean(axis=0, keepdims=True)) ** 2).sum()
    cos = (x * xh).sum(axis=1) / np.linalg.norm(x, axis=1) / np.linalg.norm(xh, axis=1)
    xc = x - x.mean(axis=1, keepdims=True)
    frac = ((x - xh) ** 2).sum(axis=1) / (xc * xc).sum(axis=1)
    return 1.0 - err / tot, cos, frac


# ----------------------------------------------------------------------------- model pieces
class Layer:
    """Layer-1 attention pieces of one model, in one convention."""

    def __init__(self, cfg, w):
        mt = cfg["model_type"]
        self.type = mt
        if mt == "gpt2":
            self.d = cfg["n_embd"]
            self.H = self.KV = cfg["n_head"]
            self.dh = self.d // self.H
            self.eps = cfg["layer_norm_epsilon"]
            p = f"h.{LAYER}."
            self.ln_w, self.ln_b = w[p + "ln_1.weight"], w[p + "ln_1.bias"]
            W, b = w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"]
            d = self.d
            self.Wq, self.Wk = W[:, :d], W[:, d:2 * d]          # [d_model, H·dh], x·W
            self.bq, self.bk = b[:d], b[d:2 * d]
            self.scale = 1.0 / math.sqrt(self.dh)
            self.inv = None
            self.qn = self.kn = None
            self.softcap = None
        else:
            self.d = cfg["hidden_size"]
            self.H, self.KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
            self.dh = cfg.get("head_dim") or self.d // self.H
            self.eps = cfg["rms_norm_eps"]
            gemma = mt == "gemma2"
            p = f"model.layers.{LAYER}."
            g = w[p + "input_layernorm.weight"]
            self.gain = 1.0 + g if gemma else g
            self.Wq = w[p + "self_attn.q_proj.weight"].T    # [d_model, H·dh]
            self.Wk = w[p + "self_attn.k_proj.weight"].T    # [d_model, KV·dh]
            self.bq = self.bk = None
            qn = p + "self_attn.q_norm.weight"
            self.qn = w[qn] if qn in w else None
            self.kn = w[p + "self_attn.k_norm.weight"] if qn in w else None
            assert mt in ("gemma2", "qwen3", "llama"), mt
            if gemma:
                assert LAYER % 2 == 1 and not cfg.get("layer_types"), "tiny-gemma2 layer 1 must be global"
            self.scale = (cfg["query_pre_attn_scalar"] if gemma else self.dh) ** -0.5
            self.softcap = cfg.get("attn_logit_softcapping") if gemma else None
            self.inv = inv_freq(cfg["rope_theta"], self.dh, cfg.get("rope_scaling"))

    def kv(self, h):
        return h // (self.H // self.KV)

    def fold(self, v):
        """The input norm's linear part on rows v [n, d_model]."""
        if self.type == "gpt2":
            return (v - v.mean(axis=1, keepdims=True)) * self.ln_w
        return v * self.gain

    def norm_scale(self, x):
        """Per-row 1/std (LayerNorm) or 1/rms (RMSNorm) of the real stream."""
        if self.type == "gpt2":
            return 1.0 / np.sqrt(((x - x.mean(axis=1, keepdims=True)) ** 2).mean(axis=1, keepdims=True) + self.eps)
        return 1.0 / np.sqrt((x * x).mean(axis=1, keepdims=True) + self.eps)

    def q_head(self, f, h):
        return f @ self.Wq[:, h * self.dh:(h + 1) * self.dh]

    def k_head(self, f, g):
        return f @ self.Wk[:, g * self.dh:(g + 1) * self.dh]


def head_rms_norm(v, gain, eps):
    return v / np.sqrt((v * v).mean(axis=1, keepdims=True) + eps) * gain


def inv_freq(theta, dh, scaling=None):
    inv = np.array([float(theta) ** (-(2.0 * j) / dh) for j in range(dh // 2)])
    kind = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if kind == "default":
        return inv
    if kind != "llama3":
        raise ValueError(f"rope_type {kind} not modelled here")
    factor = float(scaling["factor"])
    low, high = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
    orig = float(scaling["original_max_position_embeddings"])
    out = []
    for f in inv:
        wavelen = 2.0 * math.pi / f
        if wavelen < orig / high:
            out.append(f)
        elif wavelen > orig / low:
            out.append(f / factor)
        else:
            s = (orig / wavelen - low) / (high - low)
            out.append((1.0 - s) * f / factor + s * f)
    return np.array(out)


def rotate(v, pos, inv):
    """Rotate-half RoPE of v [d_head] at position pos."""
    half = len(v) // 2
    ang = pos * inv
    c, s = np.cos(ang), np.sin(ang)
    a, b = v[:half], v[half:]
    return np.concatenate([a * c - b * s, b * c + a * s])


# ----------------------------------------------------------------------------- statistics
def ranks(v):
    """1-based ranks, ties get their mean rank."""
    v = np.asarray(v, dtype=np.float64)
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = np.empty(len(v))
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for m in range(i, j + 1):
            r[order[m]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return r


def spearman(x, y):
    assert len(x) == len(y)
    if len(x) < MIN_PAIRS:
        return float("nan")
    rx, ry = ranks(x), ranks(y)
    dx, dy = rx - rx.mean(), ry - ry.mean()
    sxx, syy = float((dx * dx).sum()), float((dy * dy).sum())
    if sxx == 0.0 or syy == 0.0:
        return float("nan")
    return float((dx * dy).sum()) / math.sqrt(sxx * syy)


def _selftest():
    assert list(ranks([3.0, 1.0, 2.0, 1.0])) == [4.0, 1.5, 3.0, 1.5]
    assert abs(spearman([1, 2, 3, 4], [10, 20, 30, 40]) - 1.0) < 1e-15
    assert abs(spearman([1, 2, 3, 4], [4, 3, 2, 1]) + 1.0) < 1e-15
    # hand-computed: x ranks 1,2,3,4; y = [1, 3, 2, 4] -> d² sum 2 -> 1 − 6·2/(4·15) = 0.8
    assert abs(spearman([1, 2, 3, 4], [1, 3, 2, 4]) - 0.8) < 1e-15
    # ties: x = [1,1,2] ranks 1.5,1.5,3; y = [1,2,3]: Pearson = 0.8660254037844386 (√3/2)
    assert abs(spearman([1, 1, 2], [1, 2, 3]) - math.sqrt(3) / 2) < 1e-15
    assert math.isnan(spearman([1, 2], [1, 2])) and math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    v = np.arange(16.0)
    inv = inv_freq(10000.0, 16)
    # rotation keeps the norm and relative: (R_t q)·(R_u k) depends on t − u only
    assert abs(np.linalg.norm(rotate(v, 5, inv)) - np.linalg.norm(v)) < 1e-12
    k = np.sin(v)
    assert abs(rotate(v, 7, inv) @ rotate(k, 3, inv) - rotate(v, 4, inv) @ rotate(k, 0, inv)) < 1e-10


# ----------------------------------------------------------------------------- the case
def plumbing_check(L, x, real, name):
    """Real scores from the full stream, through this script's fold / slicing / RoPE: must match forward.json."""
    T = x.shape[0]
    f = L.fold(x) * L.norm_scale(x)
    if L.type == "gpt2":
        f = f + L.ln_b
    worst = 0.0
    for h in range(L.H):
        g = L.kv(h)
        q, k = L.q_head(f, h), L.k_head(f, g)
        if L.bq is not None:
            q = q + L.bq[h * L.dh:(h + 1) * L.dh]
            k = k + L.bk[g * L.dh:(g + 1) * L.dh]
        if L.qn is not None:
            q, k = head_rms_norm(q, L.qn, L.eps), head_rms_norm(k, L.kn, L.eps)
        if L.inv is not None:
            q = np.stack([rotate(q[t], t, L.inv) for t in range(T)])
            k = np.stack([rotate(k[t], t, L.inv) for t in range(T)])
        s = q @ k.T * L.scale
        if L.softcap:
            s = np.tanh(s / L.softcap) * L.softcap
        for t in range(T):
            for u in range(T):
                if real[h][t][u] is None:
                    assert u > t
                    continue
                worst = max(worst, abs(s[t, u] - real[h][t][u]))
    assert worst < 1e-9, f"{name}: scores from the stream differ from forward.json by {worst}"
    return worst


def _ratio(x, a, p):
    r = np.linalg.norm(a @ p["W_dec"] + p["b_dec"], axis=1) / np.linalg.norm(x, axis=1)
    return f"{r.min():.2f}…{r.max():.2f}"


def nn(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def run_case(key, folder, kind, sae_rel, fwd):
    cfg, w = read_model(folder)
    L = Layer(cfg, w)
    rec = fwd[key]["layers"][LAYER]
    assert rec["layer"] == LAYER and fwd[key]["folder"] == folder
    x = np.array(rec["resid_pre"], dtype=np.float64)
    real = rec["attn_scores"]
    T = x.shape[0]
    worst = plumbing_check(L, x, real, key)

    p, enc = read_sae(kind, sae_rel)
    assert p["W_dec"].shape == (p["W_enc"].shape[1], L.d), f"{key}: SAE width vs d_model {L.d}"
    a, xs = encode(x, p, enc)
    ve, cos, frac = reconstruction_stats(xs, a, p)
    margin = encode_margin(xs, p, enc)
    # The shipped SAEs are synthetic (W_enc ≈ c·W_decᵀ + noise, near-unit decoder rows, not trained), so x̂
    # overshoots |x| by 1.5–5× and FVE is negative; the reconstruction must still point along x.
    assert (cos > 0.4).all(), f"{key}: reconstruction does not point along the input: cos {cos}"

    dec = L.fold(p["W_dec"])                             # [d_sae, d_model]
    rope = L.inv is not None
    pred = np.zeros((L.H, T, T))
    pred_rope = np.zeros((L.H, T, T)) if rope else None
    for h in range(L.H):
        g = L.kv(h)
        qf, kf = L.q_head(dec, h), L.k_head(dec, g)       # [d_sae, d_head]: every feature's head rows
        if L.qn is not None:
            qf, kf = head_rms_norm(qf, L.qn, L.eps), head_rms_norm(kf, L.kn, L.eps)
        QK = qf @ kf.T                                    # the table, [d_sae, d_sae]
        for t in range(T):
            for u in range(t + 1):
                pred[h, t, u] = a[t] @ QK @ a[u]
        if rope:
            qt, ku = a @ qf, a @ kf                       # [T, d_head]
            for t in range(T):
                rq = rotate(qt[t], t, L.inv)
                for u in range(t + 1):
                    pred_rope[h, t, u] = rq @ rotate(ku[u], u, L.inv)
                    if t == u:   # same position: rotation cancels, equals the position-free value
                        assert abs(pred_rope[h, t, u] - pred[h, t, u]) <= 1e-9 * (1 + abs(pred[h, t, u]))

    def collect(h, first, lo, hi, which):
        xs_, ys_ = [], []
        for t in range(first, T):
            for u in range(first, t + 1):
                if lo <= t - u <= hi and real[h][t][u] is not None:
                    xs_.append(which[h, t, u])
                    ys_.append(real[h][t][u])
        return xs_, ys_

    def rho(h, first, lo, hi, which):
        if which is None:
            return float("nan")
        return spearman(*collect(h, first, lo, hi, which))

    heads, bands = [], []
    for h in range(L.H):
        heads.append({"head": h, "pairs": len(collect(h, 0, 0, T, pred)[0]),
                      "rho": nn(rho(h, 0, 0, T, pred)), "rho_rope": nn(rho(h, 0, 0, T, pred_rope)),
                      "rho_skip_first": nn(rho(h, 1, 0, T, pred)),
                      "rho_rope_skip_first": nn(rho(h, 1, 0, T, pred_rope))})
        for lo, hi in BANDS:
            m = len(collect(h, 0, lo, hi, pred)[0])
            if m:
                bands.append({"head": h, "lo": lo, "hi": hi, "pairs": m, "rho": nn(rho(h, 0, lo, hi, pred)),
                              "rho_rope": nn(rho(h, 0, lo, hi, pred_rope))})

    def tri(m):
        return None if m is None else [[[float(m[h, t, u]) if u <= t else None for u in range(T)]
                                        for t in range(T)] for h in range(L.H)]

    active = []
    for t in range(T):
        fs = [int(i) for i in np.nonzero(a[t])[0]]
        active.append({"position": t, "features": fs, "values": [float(a[t, i]) for i in fs],
                       "error_fraction": float(frac[t]), "cos_reconstruction": float(cos[t])})

    print(f"{key}: SAE {sae_rel} ({enc['architecture']}, b_dec in {enc['apply_b_dec_to_input']}, "
          f"centred {enc['centred']}, k {enc['k']}): FVE {ve:.4f}, cos(x, x̂) {cos.min():.3f}…{cos.max():.3f}, |x̂|/|x| "
          f"{_ratio(xs, a, p)}; active per position "
          f"{[len(r['features']) for r in active]}; firing margin {margin:.2e}; min relative gap of predictions "
          f"{pred_gap(pred):.1e}{'' if pred_rope is None else f' / rope {pred_gap(pred_rope):.1e}'}; "
          f"stream→scores check max |Δ| {worst:.2e}")
    for r in heads:
        fmt = lambda v: "  null" if v is None else f"{v:+.3f}"
        print(f"  L{LAYER}H{r['head']} pairs {r['pairs']}: rho {fmt(r['rho'])} rope {fmt(r['rho_rope'])}"
              f" | skip_first {fmt(r['rho_skip_first'])} rope {fmt(r['rho_rope_skip_first'])}; bands "
              + " ".join(f"[{b['lo']}-{b['hi']}]:{fmt(b['rho'])}/{fmt(b['rho_rope'])}"
                         for b in bands if b["head"] == r["head"]))
    return {"model": folder, "sae": sae_rel, "encoding": enc, "n_heads": L.H, "n_kv_heads": L.KV, "d_head": L.dh,
            "fve": ve, "firing_margin": margin, "heads": heads, "bands": bands, "pred": tri(pred), "pred_rope": tri(pred_rope),
            "active": active}


def main():
    _selftest()
    with open(os.path.join(HERE, "forward.json")) as f:
        fwd = json.load(f)
    out = {"_about": "validation.py: Spearman rho between the layer-1 QK tables' predicted scores of the SAE's "
                     "active features and the real layer-1 attention scores of forward.json; see the docstring",
           "token_ids": fwd["token_ids"], "layer": LAYER}
    for case in CASES:
        out[case[0]] = run_case(*case, fwd)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
