#!/usr/bin/python3
"""Independent float64 numpy reference for the 2026 model fixtures (issue 13): Gemma 3 (flat and nested), Qwen3 and
Llama 3.

Run: /usr/bin/python3 datasets/reference/models2026.py   (writes datasets/reference/models2026.json)

It reads the shipped folders with its own code: a lazy safetensors reader (BF16 and F32; a shard is opened only when
one of its tensors is asked for, and every file opened is listed under "files_read"), its own reading of config.json
(flat or nested text_config; layer_types or sliding_window_pattern; rope_theta/rope_local_base_freq/rope_scaling or
per-layer-type rope_parameters) and its own RoPE frequencies and explicit rotation matrices. Nothing is imported
from the generator.

The maths (the specification SAE Lab's Java code implements; vectors are rows, x·W):

Fold. Input-SAE decoder row d_i -> x_i = d_i ⊙ g_in with g_in = 1 + w (Gemma RMSNorm, input_layernorm) or w
(Llama/Qwen RMSNorm). q_i = x_i W_Q with W_Q = q_proj.weightᵀ [d_model, n_heads·d_head]; head h's slice q_i^h ∈
R^{d_head}. Keys k_j^g from the key SAE's rows (here the same input SAE) with W_K; query head h reads KV head
g = h / (n_heads / n_kv_heads).

q/k norm (Gemma 3: gains g_q = 1 + w_q, g_k = 1 + w_k; Qwen3: g_q = w_q, g_k = w_k; Llama: none):
rms(x) = sqrt(mean(x²) + eps) over the d_head entries, eps = rms_norm_eps.
  EXACT table (single feature at each end):  QK[i,j] = (g_q ⊙ q_i^h)·(g_k ⊙ k_j^g) / (rms(q_i^h)·rms(k_j^g))
  PROXY table (bilinear):                     QK[i,j] = (g_q ⊙ q_i^h)·(g_k ⊙ k_j^g)
  Models without q/k norm have one table, the bilinear q_i^h·k_j^g, stored under "qk_proxy" (for them it is exact).
  Query scale: × query_pre_attn_scalar^-½ (Gemma) or d_head^-½ (Qwen3, Llama).

OV (unchanged by q/k norm): v_i^g = x_i W_V slice; p_j^h = (e_j ⊙ g_post) W_O^hᵀ, e_j = output SAE encoder column
w_enc[:, j], g_post = 1 + w of post_attention_layernorm for Gemma (none for Llama/Qwen3, whose
post_attention_layernorm is the MLP's input norm); OV[i,j] = v_i^g · p_j^h (rows value features, columns output).

RoPE, per layer type, applied AFTER the q/k norm, rotate-half pairing (dimension j with j + d_head/2):
inv_freq_j = θ^(−2j/d_head), j = 0 … d_head/2 − 1.
  Gemma 3 global (full_attention) layers: θ = rope_theta (1e6) with linear scaling inv_freq / factor (factor 8);
  sliding layers: θ = rope_local_base_freq (1e4), unscaled. Nested configs state the same per layer type in
  rope_parameters; sliding_window_pattern p means layer i is sliding unless (i + 1) % p == 0.
  Llama 3 scaling (transformers' _compute_llama3_parameters): wavelen = 2π/inv_freq; low_freq_wavelen =
  orig/low_freq_factor; high_freq_wavelen = orig/high_freq_factor; wavelen < high_freq_wavelen: kept;
  wavelen > low_freq_wavelen: inv_freq/factor; otherwise smooth = (orig/wavelen − low)/(high − low) and
  inv = (1 − smooth)·inv_freq/factor + smooth·inv_freq.
  Table at distance Δ (query Δ tokens after the key): QK_Δ[i,j] = (R(Δ) q̂_i)·k̂_j with q̂ = g_q ⊙ q / rms(q)
  (exact) or g_q ⊙ q (proxy); R(Δ) turns pair j by Δ·inv_freq_j: (a, b) -> (a cos − b sin, b cos + a sin).
  Positional profile: the same score with x = y = the input SAE's b_dec, at Δ ∈ {0} ∪ round(exp(linspace(0,
  ln max_position_embeddings, 50))) (analyses.py's log_deltas). On a sliding layer Δ ≥ sliding_window is masked:
  the score is still given, with masked = true.

Output: for each model the config facts used, and for the tested layer: top-12 QK entries per head (exact and proxy),
one head's tables with the query scale, top-12 OV per head, one head's tables at Δ = 1 and 2, and the b_dec profile
per head ([delta, score, masked]); tiny-gemma3 also has the profile of a sliding layer. Top entries are
[row, column, value] by |value| descending, ties by row then column. All values float64.
"""
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from analyses import log_deltas  # noqa: E402

TOP = 12


# ----------------------------------------------------------------------------- reading
class Tensors:
    """Lazy reader of a model folder (one model.safetensors or an index with shards) or of a single file."""

    def __init__(self, path):
        self.opened = []
        if os.path.isdir(path):
            idx = os.path.join(path, "model.safetensors.index.json")
            if os.path.exists(idx):
                with open(idx) as f:
                    wm = json.load(f)["weight_map"]
                self.where = {k: os.path.join(path, v) for k, v in wm.items()}
            else:
                self.where = None
                self.single = os.path.join(path, "model.safetensors")
        else:
            self.where, self.single = None, path
        self.headers = {}
        if self.where is None:
            self._header(self.single)
            self.where = {k: self.single for k in self.headers[self.single][0] if k != "__metadata__"}

    def _header(self, file):
        if file not in self.headers:
            with open(file, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                self.headers[file] = (json.loads(f.read(n).decode("utf-8")), 8 + n)
            self.opened.append(os.path.relpath(file, DATA))
        return self.headers[file]

    def names(self):
        return sorted(self.where)

    def __getitem__(self, name):
        file = self.where[name]
        header, base = self._header(file)
        t = header[name]
        start, end = t["data_offsets"]
        with open(file, "rb") as f:
            f.seek(base + start)
            raw = f.read(end - start)
        if t["dtype"] == "BF16":
            hi = np.frombuffer(raw, dtype=np.dtype("<u2")).astype(np.uint32)
            a = np.left_shift(hi, 16).view(np.float32)
        elif t["dtype"] == "F32":
            a = np.frombuffer(raw, dtype=np.dtype("<f4"))
        else:
            raise ValueError(f"{name}: dtype {t['dtype']}")
        return a.astype(np.float64).reshape(t["shape"])


def read_sae(folder):
    """Gemma Scope 2 (params.safetensors, lowercase keys) or SAELens (sae_weights.safetensors)."""
    for fn in ("params.safetensors", "sae_weights.safetensors"):
        p = os.path.join(DATA, folder, fn)
        if os.path.exists(p):
            t = Tensors(p)
            return {("W" + k[1:] if k.startswith("w_") else k): t[k] for k in t.names()}, t.opened
    raise FileNotFoundError(folder)


# ----------------------------------------------------------------------------- config
def text_config(cfg):
    return cfg["text_config"] if "text_config" in cfg else cfg


def layer_types(tc):
    n = tc["num_hidden_layers"]
    if "layer_types" in tc:
        return list(tc["layer_types"])
    if tc.get("sliding_window_pattern"):
        p = tc["sliding_window_pattern"]
        return ["full_attention" if (i + 1) % p == 0 else "sliding_attention" for i in range(n)]
    return ["full_attention"] * n


def rope_params(tc, ltype):
    """{'rope_theta', 'rope_type', ...} for a layer type, from rope_parameters or the older fields."""
    if "rope_parameters" in tc:
        rp = tc["rope_parameters"]
        return dict(rp[ltype]) if ltype in rp else dict(rp)
    if ltype == "sliding_attention" and "rope_local_base_freq" in tc:
        return {"rope_type": "default", "rope_theta": tc["rope_local_base_freq"]}
    p = {"rope_type": "default"}
    if tc.get("rope_scaling"):
        p.update(tc["rope_scaling"])
    p["rope_theta"] = tc["rope_theta"]
    return p


def frequencies(p, dh):
    """inv_freq for one layer's rope parameters, and each frequency's band (Llama 3 only)."""
    theta = float(p["rope_theta"])
    base = np.array([theta ** (-(2.0 * j) / dh) for j in range(dh // 2)])
    kind = p.get("rope_type", p.get("type", "default"))
    if kind == "default":
        return base, None
    if kind == "linear":
        return base / float(p["factor"]), None
    if kind == "llama3":
        factor, low, high = float(p["factor"]), float(p["low_freq_factor"]), float(p["high_freq_factor"])
        orig = float(p["original_max_position_embeddings"])
        inv, bands = np.empty_like(base), []
        for j, f in enumerate(base):
            wl = 2 * np.pi / f
            if wl < orig / high:
                inv[j] = f
                bands.append("kept")
            elif wl > orig / low:
                inv[j] = f / factor
                bands.append("divided")
            else:
                smooth = (orig / wl - low) / (high - low)
                inv[j] = (1 - smooth) * f / factor + smooth * f
                bands.append("smoothed")
        return inv, bands
    raise ValueError(f"rope_type {kind}")


def rotation(delta, inv):
    """Explicit R(delta) on a column vector, rotate-half pairing."""
    half = len(inv)
    R = np.zeros((2 * half, 2 * half))
    for j in range(half):
        c, s = np.cos(delta * inv[j]), np.sin(delta * inv[j])
        R[j, j], R[j, j + half], R[j + half, j], R[j + half, j + half] = c, -s, s, c
    return R


# ----------------------------------------------------------------------------- tables
def top(m, k=TOP):
    rows, cols = np.indices(m.shape)
    order = np.lexsort((cols.ravel(), rows.ravel(), -np.abs(m).ravel()))[:k]
    return [[int(rows.ravel()[i]), int(cols.ravel()[i]), float(m.ravel()[i])] for i in order]


def rms_rows(M, eps):
    return np.sqrt((M ** 2).mean(axis=1, keepdims=True) + eps)


class Model:
    def __init__(self, folder):
        with open(os.path.join(DATA, folder, "config.json")) as f:
            self.cfg = json.load(f)
        tc = self.tc = text_config(self.cfg)
        self.w = Tensors(os.path.join(DATA, folder))
        self.gemma = tc["model_type"].startswith("gemma")
        self.H, self.KV = tc["num_attention_heads"], tc["num_key_value_heads"]
        self.dh = tc.get("head_dim") or tc["hidden_size"] // self.H
        self.eps = tc["rms_norm_eps"]
        self.types = layer_types(tc)
        text_prefixes = ("model.layers.", "language_model.model.layers.", "model.language_model.layers.")
        lm = [p for p in text_prefixes if p + "0.self_attn.q_proj.weight" in self.w.where]
        assert len(lm) == 1, lm
        self.prefix = lm[0]
        self.qk_norm = self.prefix + "0.self_attn.q_norm.weight" in self.w.where
        self.scale = (tc["query_pre_attn_scalar"] if self.gemma else self.dh) ** -0.5
        self.freqs = []
        for t in self.types:
            p = rope_params(tc, t)
            inv, bands = frequencies(p, self.dh)
            self.freqs.append((p, inv, bands))

    def attn(self, layer, name):
        return self.w[f"{self.prefix}{layer}.self_attn.{name}.weight"]

    def gain(self, layer, name):
        w = self.w[f"{self.prefix}{layer}.{name}.weight"]
        return 1.0 + w if self.gemma else w

    def facts(self):
        layers = []
        for i, t in enumerate(self.types):
            p, inv, bands = self.freqs[i]
            e = {"layer": i, "type": t, "sliding": t == "sliding_attention", "rope": p, "inv_freq": inv.tolist()}
            if bands:
                e["bands"] = bands
            layers.append(e)
        return {"model_type": self.tc["model_type"], "weight_prefix": self.prefix, "d_model": self.tc["hidden_size"],
                "n_heads": self.H, "n_kv_heads": self.KV, "d_head": self.dh, "rms_norm_eps": self.eps,
                "norm_gain": "1 + w" if self.gemma else "w", "qk_norm": self.qk_norm,
                "post_attention_norm_folded": self.gemma, "query_scale": self.scale,
                "sliding_window": self.tc.get("sliding_window"),
                "max_position_embeddings": self.tc["max_position_embeddings"], "layers": layers}

    def heads(self, layer, sae_q, sae_k):
        """Per head: (q rows, k rows) as used by the exact form (normalised) and the proxy form (gained)."""
        dh, grp = self.dh, self.H // self.KV
        g_in = self.gain(layer, "input_layernorm")
        Wq, Wk = self.attn(layer, "q_proj"), self.attn(layer, "k_proj")
        Q, K = (sae_q * g_in) @ Wq.T, (sae_k * g_in) @ Wk.T
        out = []
        for h in range(self.H):
            g = h // grp
            q, k = Q[:, h * dh:(h + 1) * dh], K[:, g * dh:(g + 1) * dh]
            if self.qk_norm:
                gq, gk = self.gain(layer, "self_attn.q_norm"), self.gain(layer, "self_attn.k_norm")
                out.append({"proxy": (q * gq, k * gk),
                            "exact": (q * gq / rms_rows(q, self.eps), k * gk / rms_rows(k, self.eps))})
            else:
                out.append({"proxy": (q, k)})
        return out

    def ov(self, layer, sae_in, sae_out):
        dh, grp = self.dh, self.H // self.KV
        g_in = self.gain(layer, "input_layernorm")
        Wv, Wo = self.attn(layer, "v_proj"), self.attn(layer, "o_proj")
        E = sae_out["W_enc"].T
        if self.gemma:
            E = E * self.gain(layer, "post_attention_layernorm")
        V, P = (sae_in["W_dec"] * g_in) @ Wv.T, E @ Wo
        return [top(V[:, (h // grp) * dh:(h // grp + 1) * dh] @ P[:, h * dh:(h + 1) * dh].T) for h in range(self.H)]

    def profile(self, layer, sae):
        b = sae["b_dec"][None, :]
        hs = self.heads(layer, b, b)
        deltas = log_deltas(self.tc["max_position_embeddings"])
        inv = self.freqs[layer][1]
        sliding = self.types[layer] == "sliding_attention"
        res = {"deltas": deltas}
        for form in ("exact", "proxy"):
            if form not in hs[0]:
                continue
            per = []
            for h in range(self.H):
                q, k = hs[h][form]
                per.append([[d, float((rotation(d, inv) @ q[0]) @ k[0]),
                             bool(sliding and d >= self.tc["sliding_window"])] for d in deltas])
            res[form] = per
        return res


def analyse(folder, layer, sae_in_dir, sae_out_dir, head, extra_profile=None):
    m = Model(folder)
    sae_in, r1 = read_sae(sae_in_dir)
    sae_out, r2 = read_sae(sae_out_dir)
    res = {"folder": folder, "input_sae": sae_in_dir, "output_sae": sae_out_dir, "layer": layer, "config": m.facts(),
           "one_head": head}
    hs = m.heads(layer, sae_in["W_dec"], sae_in["W_dec"])
    forms = ["exact", "proxy"] if m.qk_norm else ["proxy"]
    for form in forms:
        tabs = [hs[h][form][0] @ hs[h][form][1].T for h in range(m.H)]
        res[f"qk_{form}"] = [top(t) for t in tabs]
        res[f"qk_{form}_scaled"] = {"head": head, "scale": m.scale, "top": top(tabs[head] * m.scale)}
    res["ov"] = m.ov(layer, sae_in, sae_out)
    inv = m.freqs[layer][1]
    res["rope_tables"] = {"head": head}
    for form in forms:
        q, k = hs[head][form]
        res["rope_tables"][form] = {str(d): top((q @ rotation(d, inv).T) @ k.T) for d in (1, 2)}
    res["profile_bdec"] = m.profile(layer, sae_in)
    if extra_profile:
        lay, sae_dir = extra_profile
        sae_l, r3 = read_sae(sae_dir)
        res["profile_bdec_sliding"] = {"layer": lay, "sae": sae_dir, **m.profile(lay, sae_l)}
        r2 = r2 + r3
    res["files_read"] = m.w.opened + r1 + r2
    return res


if __name__ == "__main__":
    out = {
        "top": TOP,
        "_about": "See the docstring of models2026.py. qk_* tables: one list per head of "
                  "[query row, key column, value]; "
                  "ov: per head [value row, output column, value]; profiles: per head [delta, score, masked].",
        "gemma3": analyse("tiny-gemma3", 3, "tiny-gemma-scope-2/resid_post/layer_2_width_128_l0_small",
                          "tiny-gemma-scope-2/resid_post/layer_3_width_96_l0_small", 1,
                          extra_profile=(2, "tiny-gemma-scope-2/resid_post_all/layer_1_width_32_l0_small")),
        "gemma3_nested": analyse("tiny-gemma3-nested", 3,
                                 "tiny-gemma-scope-2-nested/resid_post/layer_2_width_128_l0_small",
                                 "tiny-gemma-scope-2-nested/resid_post/layer_3_width_96_l0_small", 2),
        "qwen3": analyse("tiny-qwen3", 1, "tiny-saelens-qwen3/blocks.1.hook_resid_pre",
                         "tiny-saelens-qwen3/blocks.1.hook_resid_post", 2),
        "llama3": analyse("tiny-llama3", 1, "tiny-saelens-llama3/blocks.1.hook_resid_pre",
                          "tiny-saelens-llama3/blocks.1.hook_resid_post", 1),
    }
    ll = out["llama3"]["config"]
    rope1 = ll["layers"][1]["rope"]
    out["llama3"]["inv_freq_unscaled"] = frequencies({"rope_theta": rope1["rope_theta"]}, ll["d_head"])[0].tolist()
    out["llama3"]["inv_freq_scaled"] = ll["layers"][1]["inv_freq"]
    out["llama3"]["bands"] = ll["layers"][1]["bands"]
    with open(os.path.join(HERE, "models2026.json"), "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", os.path.join(HERE, "models2026.json"))
