#!/usr/bin/python3
"""Independent float64 reference forward pass of the shipped tiny models (issue 14).

Run: /usr/bin/python3 datasets/reference/forward.py   (writes datasets/reference/forward.json)

Numpy only. Its own safetensors reader (F32 and BF16, BF16 widened exactly) and its own forward code, written from
the Hugging Face transformers modelling files (gpt2, gemma2, gemma3 text, qwen3, llama); nothing is imported from
the generators or the other reference scripts. Every value is computed in float64 from the stored weights.

Input: TOKEN_IDS below, no BOS added, positions 0 … T−1 (id % vocab_size if a vocabulary were smaller; all are 64).
Vectors are rows; nn.Linear weights [out, in] are used as x·Wᵀ, GPT-2 Conv1D weights [in, out] as x·W.

GPT-2 (gpt2): h = wte[ids] + wpe[pos]. Per layer: a = ln_1(h), LayerNorm (x − mean)/sqrt(var + eps)·w + b with the
biased variance, eps = layer_norm_epsilon; qkv = a·c_attn.weight + c_attn.bias split into q | k | v, heads of
d_head = n_embd/n_head; scores = q·kᵀ / sqrt(d_head); causal mask; softmax; z = pattern·v; attn_out = z·c_proj.weight
+ c_proj.bias; resid_mid = h + attn_out; mlp = gelu_new(ln_2(resid_mid)·c_fc + b)·c_proj + b with gelu_new(x) =
0.5x(1 + tanh(sqrt(2/π)(x + 0.044715x³))); resid_post = resid_mid + mlp. final = ln_f(last resid_post).

RMSNorm: x / sqrt(mean(x²) + eps) · g, eps = rms_norm_eps inside the square root; g = 1 + w for Gemma 2/3 (every
norm, including q_norm/k_norm), g = w for Qwen3 and Llama.

Gemma 2 / Gemma 3 text: h = embed[ids] · s with s = sqrt(hidden_size). transformers casts s to the model dtype (for
BF16 weights bf16(sqrt(48)) = 6.9375); SAE Lab computes in float32 from the BF16 weights, so this reference uses
s = float32(sqrt(hidden_size)) (sqrt(48) -> 6.92820310592651367), widened to float64. Per layer: a =
input_layernorm(h); q, k, v = a·Wᵀ per head; Gemma 3 only: q = q_norm(q), k = k_norm(k) over d_head (gain 1 + w),
before RoPE; RoPE rotate-half (dimension j pairs with j + d_head/2, angle pos·inv_freq_j, inv_freq_j =
θ^(−2j/d_head), computed in float64): Gemma 2 θ = rope_theta on every layer; Gemma 3 sliding layers θ =
rope_local_base_freq unscaled, full-attention layers θ = rope_theta with rope_scaling linear (inv_freq / factor).
scores = q·kᵀ · query_pre_attn_scalar^−½; Gemma 2: scores = tanh(scores/cap)·cap, cap = attn_logit_softcapping
(before the mask, as transformers does). Query head h reads KV head h // (n_heads / n_kv_heads). Masks: causal (key
position j > query position i masked); on sliding layers also j ≤ i − sliding_window (transformers'
sliding_window_overlay keeps kv_idx > q_idx − sliding_window: the query and the sliding_window − 1 keys before it).
Sliding layers: layer_types when the config has them, else Gemma 2's default (even layer indices sliding).
softmax; z; attn_out = o_proj(z); resid_mid = h + post_attention_layernorm(attn_out); m =
pre_feedforward_layernorm(resid_mid); mlp = down(gelu_tanh(gate(m)) · up(m)) (gelu_pytorch_tanh = gelu_new above);
resid_post = resid_mid + post_feedforward_layernorm(mlp). final = norm(last resid_post).

Qwen3: no embedding scale; plain RMSNorm (g = w); q_norm/k_norm (g = w) over d_head before RoPE; θ = rope_theta;
scores · d_head^−½; no soft-cap, no sliding window (use_sliding_window false); resid_mid = h + o_proj(z); m =
post_attention_layernorm(resid_mid) (the MLP's input norm); mlp = down(silu(gate(m)) · up(m)); resid_post =
resid_mid + mlp. final = norm.

Llama 3: as Qwen3 without q/k norms; inv_freq with rope_scaling llama3 (transformers' _compute_llama3_parameters):
wavelen = 2π/inv_freq; wavelen < orig/high_freq_factor kept; wavelen > orig/low_freq_factor divided by factor;
otherwise smooth = (orig/wavelen − low)/(high − low), inv = (1 − smooth)·inv/factor + smooth·inv.

Output (forward.json), per model key: folder, model_type, n_layers, layers [{layer, resid_pre, resid_mid,
resid_post [T][d_model], attn_scores [n_heads][T][T] (the pre-softmax scores after the scale and, for Gemma 2, the
soft-cap; null where masked), pattern [n_heads][T][T] (softmax rows, exactly 0 where masked)}], final [T][d_model]
(after the final norm). resid_pre of layer 0 is the (scaled) embedding; resid_pre of layer l+1 is resid_post of l.
"""
import json
import math
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
OUT = os.path.join(HERE, "forward.json")

TOKEN_IDS = [2, 17, 5, 33, 9, 41, 12, 60]
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


def attention(q, k, v, scale, allowed, softcap=None):
    """q [H,T,dh], k/v [KV,T,dh] -> (scores [H,T,T], pattern [H,T,T], z [T, H·dh])."""
    H, KV = q.shape[0], k.shape[0]
    grp = H // KV
    kk = np.stack([k[h // grp] for h in range(H)])
    vv = np.stack([v[h // grp] for h in range(H)])
    scores = np.einsum("htd,hsd->hts", q, kk) * scale
    if softcap:
        scores = np.tanh(scores / softcap) * softcap
    pattern = softmax_masked(scores, allowed[None])
    z = np.einsum("hts,hsd->htd", pattern, vv)
    return scores, pattern, np.concatenate(list(z), axis=-1)


def record(layer, pre, mid, post, scores, pattern, allowed):
    return {"layer": layer, "resid_pre": pre, "resid_mid": mid, "resid_post": post,
            "attn_scores": scores, "pattern": pattern, "allowed": allowed}


# ----------------------------------------------------------------------------- models
def forward_gpt2(cfg, w, ids):
    d, H = cfg["n_embd"], cfg["n_head"]
    dh, eps, T = d // H, cfg["layer_norm_epsilon"], len(ids)
    assert cfg.get("activation_function", "gelu_new") == "gelu_new"
    h = w["wte.weight"][ids] + w["wpe.weight"][np.arange(T)]
    allowed = allowed_mask(T)
    layers = []
    for L in range(cfg["n_layer"]):
        p = f"h.{L}."
        pre = h
        a = layer_norm(h, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (qkv[:, i * d:(i + 1) * d].reshape(T, H, dh).transpose(1, 0, 2) for i in range(3))
        scores, pattern, z = attention(q, k, v, 1.0 / math.sqrt(dh), allowed)
        mid = h + z @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        m = layer_norm(mid, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        mlp = gelu_tanh(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]) @ w[p + "mlp.c_proj.weight"] \
            + w[p + "mlp.c_proj.bias"]
        h = mid + mlp
        layers.append(record(L, pre, mid, h, scores, pattern, allowed))
    return layers, layer_norm(h, w["ln_f.weight"], w["ln_f.bias"], eps)


def layer_types(cfg):
    n = cfg["num_hidden_layers"]
    if cfg.get("layer_types"):
        return list(cfg["layer_types"])
    if cfg["model_type"] == "gemma2":
        return ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(n)]
    if cfg.get("use_sliding_window") and cfg.get("sliding_window"):
        raise ValueError("sliding windows for this model type are not modelled here")
    return ["full_attention"] * n


def forward_decoder(cfg, w, ids):
    """Gemma 2, Gemma 3 text, Qwen3, Llama."""
    mt = cfg["model_type"]
    gemma = mt in ("gemma2", "gemma3_text")
    d, H, KV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    dh = cfg.get("head_dim") or d // H
    eps, T = cfg["rms_norm_eps"], len(ids)
    types = layer_types(cfg)
    act = gelu_tanh if gemma else silu
    assert cfg.get("hidden_activation", cfg.get("hidden_act")) == ("gelu_pytorch_tanh" if gemma else "silu")

    def gain(name):
        return 1.0 + w[name] if gemma else w[name]

    def lin(x, name):
        return x @ w[name].T

    h = w["model.embed_tokens.weight"][ids]
    if gemma:
        h = h * float(np.float32(math.sqrt(d)))
    scale = (cfg["query_pre_attn_scalar"] if gemma else dh) ** -0.5
    softcap = cfg.get("attn_logit_softcapping") if mt == "gemma2" else None
    layers = []
    for L in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{L}."
        sliding = types[L] == "sliding_attention"
        if mt == "gemma3_text" and sliding:
            inv = inv_freq(cfg["rope_local_base_freq"], dh)
        else:
            inv = inv_freq(cfg["rope_theta"], dh, cfg.get("rope_scaling"))
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
        scores, pattern, z = attention(q, k, v, scale, allowed, softcap)
        attn_out = lin(z, p + "self_attn.o_proj.weight")
        if gemma:
            mid = h + rms_norm(attn_out, gain(p + "post_attention_layernorm.weight"), eps)
            m = rms_norm(mid, gain(p + "pre_feedforward_layernorm.weight"), eps)
        else:
            mid = h + attn_out
            m = rms_norm(mid, gain(p + "post_attention_layernorm.weight"), eps)
        mlp = lin(act(lin(m, p + "mlp.gate_proj.weight")) * lin(m, p + "mlp.up_proj.weight"),
                  p + "mlp.down_proj.weight")
        if gemma:
            mlp = rms_norm(mlp, gain(p + "post_feedforward_layernorm.weight"), eps)
        h = mid + mlp
        layers.append(record(L, pre, mid, h, scores, pattern, allowed))
    return layers, rms_norm(h, gain("model.norm.weight"), eps)


# ----------------------------------------------------------------------------- output
def rows(a):
    return [[float(x) for x in r] for r in a]


def run(key, folder):
    with open(os.path.join(DATA, folder, "config.json")) as f:
        cfg = json.load(f)
    cfg = cfg.get("text_config", cfg)
    w = read_folder(folder)
    vocab = cfg["vocab_size"]
    ids = np.array([t % vocab for t in TOKEN_IDS])
    fwd = forward_gpt2 if cfg["model_type"] == "gpt2" else forward_decoder
    layers, final = fwd(cfg, w, ids)
    T = len(ids)
    out_layers, masked_total = [], 0
    for r in layers:
        allowed = r["allowed"]
        # the mask is exactly what the layer type says: causal, plus the window on sliding layers
        assert np.array_equal(allowed, expected_allowed(cfg, r["layer"], T)[0]), (key, r["layer"])
        pat = r["pattern"]
        assert np.all(pat[:, ~allowed] == 0.0), (key, r["layer"])
        assert np.all(pat[:, allowed] > 0.0), (key, r["layer"])
        assert np.allclose(pat.sum(axis=-1), 1.0, rtol=0, atol=1e-12), (key, r["layer"])
        assert np.all(np.isfinite(r["attn_scores"]))
        masked_total += int((~allowed).sum())
        out_layers.append({
            "layer": r["layer"],
            "resid_pre": rows(r["resid_pre"]),
            "resid_mid": rows(r["resid_mid"]),
            "resid_post": rows(r["resid_post"]),
            "attn_scores": [[[float(s_h[i, j]) if allowed[i, j] else None for j in range(T)] for i in range(T)]
                            for s_h in r["attn_scores"]],
            "pattern": [rows(p_h) for p_h in pat],
        })
    return {"folder": folder, "model_type": cfg["model_type"], "n_layers": len(layers), "layers": out_layers,
            "final": rows(final)}, cfg, masked_total


def expected_allowed(cfg, layer, T):
    types = layer_types(cfg) if cfg["model_type"] != "gpt2" else ["full_attention"] * cfg["n_layer"]
    window = cfg.get("sliding_window") if types[layer] == "sliding_attention" else None
    return allowed_mask(T, window), types[layer]


def main():
    # the window convention on a longer sequence than TOKEN_IDS (at T = 8 no shipped window bites: gemma2 32, gemma3 8)
    w8 = allowed_mask(10, 8)
    assert w8[7, 0] and not w8[8, 0] and w8[8, 1] and not w8[9, 1] and w8[9, 2] and not w8[2, 3]
    out = {"_about": "Independent float64 reference forward pass (datasets/reference/forward.py; its docstring states "
                     "the maths and conventions). Input token_ids, no BOS, positions 0..T-1. Per model: layers[l] "
                     "resid_pre/resid_mid/resid_post [T][d_model]; attn_scores [n_heads][T][T] = pre-softmax scores "
                     "after the query scale (and Gemma 2's tanh soft-cap), null where masked; pattern [n_heads][T][T] "
                     "softmax, 0 where masked; final = last resid_post after the final norm. Gemma embeddings are "
                     "scaled by float32(sqrt(hidden_size)) (transformers uses the model dtype: bf16 6.9375 for d 48). "
                     "Sliding layers mask key j <= query i - sliding_window.",
           "token_ids": TOKEN_IDS}
    T = len(TOKEN_IDS)
    for key, folder in MODELS:
        res, cfg, masked_total = run(key, folder)
        for lay in res["layers"]:
            exp, kind = expected_allowed(cfg, lay["layer"], T)
            for h_scores, h_pat in zip(lay["attn_scores"], lay["pattern"]):
                for i in range(T):
                    assert [s is not None for s in h_scores[i]] == exp[i].tolist(), (key, lay["layer"], i)
                    assert [p != 0.0 for p in h_pat[i]] == exp[i].tolist(), (key, lay["layer"], i)
                    assert abs(math.fsum(h_pat[i]) - 1.0) < 1e-12, (key, lay["layer"], i)
        out[key] = res
        fin = np.array(res["final"])
        kinds = ",".join(("S" if t == "sliding_attention" else "F")
                         for t in (layer_types(cfg) if cfg["model_type"] != "gpt2" else ["full_attention"] * 2))
        print(f"{key:7s} {folder:12s} layers {res['n_layers']} [{kinds}] heads {len(res['layers'][0]['pattern'])} "
              f"masked per head {masked_total // res['n_layers']} of {T * T} "
              f"|final| {np.linalg.norm(fin):.6f} final[0][:3] {fin[0][:3].tolist()}")
    text = json.dumps(out, separators=(",", ":"), allow_nan=False)
    with open(OUT, "w") as f:
        f.write(text + "\n")
    print("wrote", os.path.relpath(OUT, os.path.dirname(DATA)), len(text) + 1, "bytes")


if __name__ == "__main__":
    main()
