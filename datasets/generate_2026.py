#!/usr/bin/python3
"""Generate SAE Lab's 2026-model fixtures: tiny Gemma 3 (flat and nested), Qwen3 and Llama 3 checkpoints and their SAEs,
in the real on-disk formats, with planted structure this script asserts.

Run with Debian's python3 (numpy only):  /usr/bin/python3 datasets/generate_2026.py
Then the reference:                      /usr/bin/python3 datasets/reference/models2026.py

Deterministic (one seeded generator per model). generate.py's outputs are not touched; the writers are imported from
it. planted.json keeps its existing keys and gains "gemma3", "gemma3_nested", "qwen3", "llama3" (run generate.py
first if both are run: it rewrites planted.json with its own keys only).

Every planted fact is checked in float64 from the stored values (BF16-rounded model weights, F32 SAEs), with the
maths of datasets/reference/models2026.py (q/k norm, exact and proxy QK tables, RoPE after the norm, per-layer-type
frequencies, Llama 3 frequency scaling). The script fails if a plant does not come out as stated.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate import bf16, bf16_round, bf16_to_f32, ensure, f32, write_safetensors  # noqa: E402

TOP_MAX_POS = 512


# ----------------------------------------------------------------------------- helpers
def rd(a):
    """The value a BF16 tensor stores, as float64."""
    return bf16_to_f32(bf16_round(a)).astype(np.float64)


def r32(a):
    """The value an F32 tensor stores, as float64."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def log_deltas(ctx, count=50):
    """Same grid as reference/analyses.py: {0} and round(exp(linspace(0, ln ctx, count)))."""
    return sorted(set([0] + [int(x) for x in np.rint(np.exp(np.linspace(0, np.log(ctx), count)))]))


def default_inv_freq(theta, dh):
    return theta ** (-np.arange(0, dh, 2, dtype=np.float64) / dh)


def llama3_inv_freq(theta, dh, factor, low, high, orig):
    """transformers' _compute_llama3_parameters, in float64; also returns each frequency's band."""
    inv = default_inv_freq(theta, dh)
    wavelen = 2 * np.pi / inv
    low_wl, high_wl = orig / low, orig / high
    out, band = inv.copy(), []
    for j in range(len(inv)):
        if wavelen[j] < high_wl:
            band.append("kept")
        elif wavelen[j] > low_wl:
            out[j] = inv[j] / factor
            band.append("divided")
        else:
            s = (orig / wavelen[j] - low) / (high - low)
            out[j] = (1 - s) * inv[j] / factor + s * inv[j]
            band.append("smoothed")
    return out, band


def rotate(v, delta, inv):
    """R(delta) v, rotate-half pairing (j with j + d_head/2)."""
    h = len(inv)
    a, b = v[..., :h], v[..., h:]
    c, s = np.cos(delta * inv), np.sin(delta * inv)
    return np.concatenate([a * c - b * s, b * c + a * s], axis=-1)


def qk_normed(x, gain, eps):
    """RMSNorm over the last axis (d_head entries) with the effective gain."""
    return gain * x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)


def rank_of(m, i, j):
    return int((np.abs(m) > abs(m[i, j])).sum()) + 1


def top1(m):
    i, j = np.unravel_index(np.argmax(np.abs(m)), m.shape)
    return int(i), int(j)


def jumprelu_sae(rng, n, d, b_dec_norm=None):
    dec = rng.standard_normal((n, d))
    dec /= np.linalg.norm(dec, axis=1, keepdims=True)
    dec *= np.exp(0.5 * rng.standard_normal((n, 1)))          # heavy-tailed norms, as real decoders have
    s = dict(W_dec=dec, b_dec=0.1 * rng.standard_normal(d))
    s["W_enc"] = dec.T * 0.8 + 0.05 * rng.standard_normal((d, n))
    s["b_enc"] = -0.1 * np.abs(rng.standard_normal(n))
    s["threshold"] = 0.05 + 0.05 * np.abs(rng.standard_normal(n))
    if b_dec_norm:
        s["b_dec"] *= b_dec_norm / np.linalg.norm(s["b_dec"])
    return s


def set_norm(sae, i, norm):
    sae["W_dec"][i] *= norm / np.linalg.norm(sae["W_dec"][i])


def impose(W, rows, cons):
    """Smallest change to the nn.Linear block W[rows] ([out, in]) such that W[rows] @ x = t for every (x, t) in cons."""
    X = np.stack([x for x, _ in cons], axis=1)
    T = np.stack([t for _, t in cons], axis=1)
    B = W[rows]
    W[rows] = B + (T - B @ X) @ np.linalg.solve(X.T @ X, X.T)


def phased_pair(rng, dh, inv, delta_star, amps):
    """Query/key vectors whose rotate-half score (R(d) q).k = sum_j amps_j^2 cos((d - delta_star) inv_j)."""
    h = dh // 2
    beta = rng.uniform(0, 2 * np.pi, h)
    alpha = beta - delta_star * inv
    k = np.concatenate([amps * np.cos(beta), amps * np.sin(beta)])
    q = np.concatenate([amps * np.cos(alpha), amps * np.sin(alpha)])
    return q, k


def write_index(folder, shards):
    """shards: list of (file name, tensors). Writes the shards and model.safetensors.index.json."""
    total, wm = 0, {}
    for nm, sh in shards:
        total += write_safetensors(os.path.join(folder, nm), sh, {"format": "pt"})
        for t in sh:
            wm[t] = nm
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(wm.items()))}, f, indent=2)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def gs2_write(root, folder, sae, cfg, skip=None):
    """Gemma Scope 2: {folder}/params.safetensors (F32, lowercase keys) + config.json."""
    p = ensure(os.path.join(root, folder))
    t = {"w_enc": f32(sae["W_enc"]), "w_dec": f32(sae["W_dec"]), "b_enc": f32(sae["b_enc"]),
         "b_dec": f32(sae["b_dec"]), "threshold": f32(sae["threshold"])}
    if skip is not None:
        t["affine_skip_connection"] = f32(skip)
    write_safetensors(os.path.join(p, "params.safetensors"), t)
    write_json(os.path.join(p, "config.json"), cfg)


def gs2_config(model, hook_in, hook_out, width, l0, kind="sae", affine=False):
    return {"hf_hook_point_in": hook_in, "hf_hook_point_out": hook_out, "width": width, "model_name": model,
            "architecture": "jump_relu", "l0": l0, "affine_connection": affine, "type": kind}


def saelens_write(root, hook, sae, model, arch, k=None):
    """SAELens v6 folder: cfg.json + sae_weights.safetensors (F32, W_enc [d_in, d_sae], W_dec [d_sae, d_in])."""
    folder = ensure(os.path.join(root, hook))
    d, n = sae["W_enc"].shape
    keys = ["W_enc", "W_dec", "b_enc", "b_dec"] + (["threshold"] if arch == "jumprelu" else [])
    write_safetensors(os.path.join(folder, "sae_weights.safetensors"), {k_: f32(sae[k_]) for k_ in keys})
    cfg = {"d_in": d, "d_sae": n, "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": arch != "jumprelu",
           "normalize_activations": "none", "reshape_activations": "none", "architecture": arch}
    if k is not None:
        cfg["k"] = k
    cfg["metadata"] = {"model_name": model, "hook_name": hook, "hook_head_index": None,
                       "model_class_name": "HookedTransformer", "prepend_bos": True, "context_size": 128,
                       "model_from_pretrained_kwargs": {"center_writing_weights": False},
                       "neuronpedia_id": None, "sae_lens_version": "6.18.0"}
    write_json(os.path.join(folder, "cfg.json"), cfg)


# ----------------------------------------------------------------------------- shared model pieces
D, H, DH, VOCAB, DMLP = 48, 4, 16, 64, 96
SD = 0.08


def random_layer(rng, n_kv, norm_kind, qk_norm):
    """One decoder layer's weights (float64, before BF16 rounding). norm_kind 'gemma' stores w (gain 1 + w),
    'plain' stores the gain itself."""
    def nw(n, s=0.3):
        return s * rng.standard_normal(n) if norm_kind == "gemma" else 1.0 + s * rng.standard_normal(n)
    L = dict(input_layernorm=nw(D), post_attention_layernorm=nw(D))
    if norm_kind == "gemma":
        L["pre_feedforward_layernorm"] = nw(D)
        L["post_feedforward_layernorm"] = nw(D)
    if qk_norm:
        L["q_norm"], L["k_norm"] = nw(DH, 0.2), nw(DH, 0.2)
    L.update(q=rng.standard_normal((H * DH, D)) * SD, k=rng.standard_normal((n_kv * DH, D)) * SD,
             v=rng.standard_normal((n_kv * DH, D)) * SD, o=rng.standard_normal((D, H * DH)) * SD,
             gate=rng.standard_normal((DMLP, D)) * 0.02, up=rng.standard_normal((DMLP, D)) * 0.02,
             down=rng.standard_normal((D, DMLP)) * 0.02)
    return L


def layer_tensors(prefix, L):
    t = {}
    norms = ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm")
    for nm in norms:
        if nm in L:
            t[prefix + nm + ".weight"] = bf16(L[nm])
    for nm in ("q", "k", "v", "o"):
        t[prefix + f"self_attn.{nm}_proj.weight"] = bf16(L[nm])
    for nm in ("q_norm", "k_norm"):
        if nm in L:
            t[prefix + f"self_attn.{nm}.weight"] = bf16(L[nm])
    for nm in ("gate", "up", "down"):
        t[prefix + f"mlp.{nm}_proj.weight"] = bf16(L[nm])
    return t


def gain(L, name, kind):
    w = rd(L[name])
    return 1.0 + w if kind == "gemma" else w


def folded(sae, g_in):
    return r32(sae["W_dec"]) * g_in


def tables(L, kind, n_kv, sae_q, sae_k, eps, head):
    """Exact and proxy QK tables of one head from the stored values."""
    g_in = gain(L, "input_layernorm", kind)
    grp = H // n_kv
    g = head // grp
    Q = folded(sae_q, g_in) @ rd(L["q"])[head * DH:(head + 1) * DH].T
    K = folded(sae_k, g_in) @ rd(L["k"])[g * DH:(g + 1) * DH].T
    if "q_norm" not in L:
        return None, Q @ K.T
    gq, gk = gain(L, "q_norm", kind), gain(L, "k_norm", kind)
    exact = qk_normed(Q, gq, eps) @ qk_normed(K, gk, eps).T
    proxy = (Q * gq) @ (K * gk).T
    return exact, proxy


def bdec_profile(L, kind, n_kv, sae, eps, head, inv, deltas):
    g_in = gain(L, "input_layernorm", kind)
    g = head // (H // n_kv)
    b = r32(sae["b_dec"]) * g_in
    q = rd(L["q"])[head * DH:(head + 1) * DH] @ b
    k = rd(L["k"])[g * DH:(g + 1) * DH] @ b
    if "q_norm" in L:
        q, k = qk_normed(q, gain(L, "q_norm", kind), eps), qk_normed(k, gain(L, "k_norm", kind), eps)
    return np.array([rotate(q, d, inv) @ k for d in deltas])


def plant_exact_vs_proxy(rng, cons_q, cons_k, X, qi, kj, qd, kd, head, g, m, small, big):
    """Query qi and key kj get q = k = small * e_m (aligned on the coordinate with the largest q/k-norm gains, tiny
    norm); the distractor pair qd, kd gets vectors of norm `big` (cosine ~0.9) with no e_m component."""
    e = np.zeros(DH)
    e[m] = 1.0
    v = rng.standard_normal(DH)
    v[m] = 0
    v /= np.linalg.norm(v)
    w = v + 0.5 * rng.standard_normal(DH) / np.sqrt(DH)
    w[m] = 0
    w /= np.linalg.norm(w)
    cons_q.setdefault(head, []).extend([(X[qi], small * e), (X[qd], big * v)])
    cons_k.setdefault(g, []).extend([(X[kj], small * e), (X[kd], big * w)])


def apply_cons(L, cons_q, cons_k):
    for h, c in cons_q.items():
        impose(L["q"], slice(h * DH, (h + 1) * DH), c)
    for g, c in cons_k.items():
        impose(L["k"], slice(g * DH, (g + 1) * DH), c)


def check_exact_vs_proxy(L, kind, n_kv, sae, eps, p):
    exact, proxy = tables(L, kind, n_kv, sae, sae, eps, p["head"])
    qi, kj, qd, kd = p["query"], p["key"], p["distractor_query"], p["distractor_key"]
    r_ex, r_px = rank_of(exact, qi, kj), rank_of(proxy, qi, kj)
    assert r_ex == 1, f"exact-vs-proxy: planted pair ranks {r_ex} in the exact table"
    assert r_px >= 5, f"exact-vs-proxy: planted pair ranks {r_px} in the proxy table"
    assert top1(proxy) == (qd, kd), f"proxy top pair is {top1(proxy)}, not the distractor"
    r_dx = rank_of(exact, qd, kd)
    assert r_dx > 1, "the proxy's top pair is also first in the exact table"
    p.update(exact_value=round(float(exact[qi, kj]), 4), proxy_value=round(float(proxy[qi, kj]), 4),
             exact_rank=r_ex, proxy_rank=r_px,
             distractor_exact_value=round(float(exact[qd, kd]), 4), distractor_exact_rank=r_dx,
             distractor_proxy_value=round(float(proxy[qd, kd]), 4), distractor_proxy_rank=1)


# ----------------------------------------------------------------------------- Gemma 3
G3 = dict(n_layers=4, n_kv=1, eps=1e-6, window=8, qpas=16, theta_global=1e6, theta_local=1e4, factor=8.0)
G3_TYPES = ["sliding_attention", "sliding_attention", "sliding_attention", "full_attention"]
G3_LAYER = 3


def g3_inv(layer_type, scaled=True):
    if layer_type == "full_attention":
        return default_inv_freq(G3["theta_global"], DH) / (G3["factor"] if scaled else 1.0)
    return default_inv_freq(G3["theta_local"], DH)


def gemma3(seed, nested, plant):
    rng = np.random.default_rng(seed)
    n_kv, eps = G3["n_kv"], G3["eps"]
    layers = [random_layer(rng, n_kv, "gemma", True) for _ in range(G3["n_layers"])]
    embed = 0.5 * rng.standard_normal((VOCAB, D))
    final_norm = 0.3 * rng.standard_normal(D)
    sae_in = jumprelu_sae(rng, 128, D, b_dec_norm=1.5)     # resid_post of layer 2 = input of layer 3
    sae_out = jumprelu_sae(rng, 96, D)                     # resid_post of layer 3
    L = layers[G3_LAYER]
    pe = plant["exact_vs_proxy"]
    m = pe["coordinate"]
    L["q_norm"][m], L["k_norm"][m] = 0.9, 0.9             # gains 1.9: the largest q/k-norm gain product
    for f in (pe["query"], pe["key"]):
        set_norm(sae_in, f, 0.5)                           # the planted pair: small decoder norms
    for f in (pe["distractor_query"], pe["distractor_key"]):
        set_norm(sae_in, f, 3.0)                           # the distractor: large ones
    po = plant.get("ov")
    if po:
        set_norm(sae_in, po["value"], 3.0)
        sae_out["W_enc"][:, po["output"]] *= 3.0 / np.linalg.norm(sae_out["W_enc"][:, po["output"]])

    g_in = gain(L, "input_layernorm", "gemma")
    gq, gk = gain(L, "q_norm", "gemma"), gain(L, "k_norm", "gemma")
    X = folded(sae_in, g_in)
    cons_q, cons_k = {}, {}
    plant_exact_vs_proxy(rng, cons_q, cons_k, X, pe["query"], pe["key"], pe["distractor_query"],
                         pe["distractor_key"], pe["head"], pe["head"] // (H // n_kv), m, pe["small"], pe["big"])
    pp = plant.get("positional")
    if pp:
        amps = np.array(pp["amplitudes"])
        tq, tk = phased_pair(rng, DH, g3_inv("full_attention"), pp["delta_star"], amps)
        xb = r32(sae_in["b_dec"]) * g_in
        cons_q.setdefault(pp["head"], []).append((xb, tq / gq))      # normalised q = g_q * q / rms ∝ tq
        cons_k.setdefault(pp["head"] // (H // n_kv), []).append((xb, tk / gk))
    apply_cons(L, cons_q, cons_k)
    if po:
        h, g = po["head"], po["head"] // (H // n_kv)
        u = rng.standard_normal(DH)
        u /= np.linalg.norm(u)
        xv = X[po["value"]]
        et = r32(sae_out["W_enc"][:, po["output"]]) * gain(L, "post_attention_layernorm", "gemma")
        L["v"][g * DH:(g + 1) * DH] += po["strength"] * np.outer(u, xv / (xv @ xv))
        L["o"][:, h * DH:(h + 1) * DH] += po["strength"] * np.outer(et / (et @ et), u)

    # ---- checks, from the stored values
    check_exact_vs_proxy(L, "gemma", n_kv, sae_in, eps, pe)
    deltas = log_deltas(TOP_MAX_POS)
    if pp:
        prof = {name: bdec_profile(L, "gemma", n_kv, sae_in, eps, pp["head"], inv, deltas)
                for name, inv in (("global", g3_inv("full_attention")), ("local", g3_inv("sliding_attention")),
                                  ("global_unscaled", g3_inv("full_attention", scaled=False)))}
        peak = {k: deltas[int(np.argmax(v))] for k, v in prof.items()}
        full = bdec_profile(L, "gemma", n_kv, sae_in, eps, pp["head"], g3_inv("full_attention"), range(TOP_MAX_POS))
        assert peak["global"] == pp["delta_star"], f"positional plant peaks at {peak['global']}"
        assert int(np.argmax(full)) == pp["delta_star"], f"over every distance it peaks at {int(np.argmax(full))}"
        assert peak["local"] != pp["delta_star"], "the sliding layers' theta gives the same peak"
        assert peak["global_unscaled"] != pp["delta_star"], "theta 1e6 without the linear scaling gives the same peak"
        pp.update(peak_global=peak["global"], peak_if_local_theta=peak["local"],
                  peak_if_unscaled=peak["global_unscaled"],
                  score_at_peak=round(float(prof["global"][deltas.index(peak["global"])]), 4),
                  score_at_0=round(float(prof["global"][0]), 4))
    if po:
        g = po["head"] // (H // n_kv)
        V = X @ rd(L["v"])[g * DH:(g + 1) * DH].T
        Et = r32(sae_out["W_enc"]).T * gain(L, "post_attention_layernorm", "gemma")
        P = Et @ rd(L["o"])[:, po["head"] * DH:(po["head"] + 1) * DH]
        ov = V @ P.T
        r = rank_of(ov, po["value"], po["output"])
        assert r == 1, f"OV plant ranks {r}"
        po.update(value_ov=round(float(ov[po["value"], po["output"]]), 4), rank=r)

    # ---- store
    name = "tiny-gemma3-nested" if nested else "tiny-gemma3"
    out = ensure(os.path.join(HERE, name))
    pre = "language_model.model." if nested else "model."
    text = {pre + "embed_tokens.weight": bf16(embed), pre + "norm.weight": bf16(final_norm)}
    for i, Li in enumerate(layers):
        text.update(layer_tensors(f"{pre}layers.{i}.", Li))
    text_cfg = {
        "model_type": "gemma3_text", "hidden_size": D, "intermediate_size": DMLP, "num_hidden_layers": G3["n_layers"],
        "num_attention_heads": H, "num_key_value_heads": n_kv, "head_dim": DH, "query_pre_attn_scalar": G3["qpas"],
        "rms_norm_eps": eps, "sliding_window": G3["window"], "max_position_embeddings": TOP_MAX_POS,
        "vocab_size": VOCAB, "attention_bias": False, "attention_dropout": 0.0, "attn_logit_softcapping": None,
        "final_logit_softcapping": None, "hidden_activation": "gelu_pytorch_tanh", "initializer_range": 0.02,
        "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0, "use_cache": True,
    }
    if nested:
        text_cfg["rope_parameters"] = {
            "full_attention": {"rope_type": "linear", "factor": G3["factor"], "rope_theta": G3["theta_global"]},
            "sliding_attention": {"rope_type": "default", "rope_theta": G3["theta_local"]}}
        text_cfg["sliding_window_pattern"] = 4
        vis = nested_vision(rng)
        write_index(out, [("model-00001-of-00002.safetensors", text), ("model-00002-of-00002.safetensors", vis)])
        cfg = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
               "boi_token_index": 60, "eoi_token_index": 61, "image_token_index": 62, "mm_tokens_per_image": 4,
               "eos_token_id": [1, 63], "initializer_range": 0.02, "torch_dtype": "bfloat16",
               "transformers_version": "4.57.0", "text_config": text_cfg,
               "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64,
                                 "num_attention_heads": 2, "num_hidden_layers": 1, "image_size": 28,
                                 "patch_size": 14, "num_channels": 3, "layer_norm_eps": 1e-6,
                                 "vision_use_head": False}}
    else:
        text_cfg.update(layer_types=G3_TYPES, rope_theta=G3["theta_global"], rope_local_base_freq=G3["theta_local"],
                        rope_scaling={"rope_type": "linear", "factor": G3["factor"]})
        write_safetensors(os.path.join(out, "model.safetensors"), text, {"format": "pt"})
        cfg = {"architectures": ["Gemma3ForCausalLM"], **text_cfg, "cache_implementation": "hybrid",
               "torch_dtype": "bfloat16", "transformers_version": "4.57.0"}
    write_json(os.path.join(out, "config.json"), cfg)

    # ---- Gemma Scope 2 SAEs
    model_name = name
    root = os.path.join(HERE, "tiny-gemma-scope-2-nested" if nested else "tiny-gemma-scope-2")
    gs2_write(root, "resid_post/layer_2_width_128_l0_small", sae_in,
              gs2_config(model_name, "model.layers.2.output", "model.layers.2.output", 128, 14))
    gs2_write(root, "resid_post/layer_3_width_96_l0_small", sae_out,
              gs2_config(model_name, "model.layers.3.output", "model.layers.3.output", 96, 11))
    if not nested:
        tc = jumprelu_sae(rng, 64, D)
        skip = 0.05 * rng.standard_normal((D, D))
        gs2_write(root, "transcoder/layer_3_width_64_l0_small_affine", tc,
                  gs2_config(model_name, "model.layers.3.pre_feedforward_layernorm.output",
                             "model.layers.3.post_feedforward_layernorm.output", 64, 12, "transcoder", True), skip)
        sl = jumprelu_sae(rng, 32, D, b_dec_norm=1.5)      # resid_post of layer 1 = input of the sliding layer 2
        gs2_write(root, "resid_post_all/layer_1_width_32_l0_small", sl,
                  gs2_config(model_name, "model.layers.1.output", "model.layers.1.output", 32, 10))
    return plant


def nested_vision(rng):
    """A dummy SigLIP tower and the Gemma 3 projector (shard 2 only)."""
    vh, vi, p = 32, 64, 14
    pre = "vision_tower.vision_model."
    t = {pre + "embeddings.patch_embedding.weight": bf16(0.02 * rng.standard_normal((vh, 3, p, p))),
         pre + "embeddings.patch_embedding.bias": bf16(np.zeros(vh)),
         pre + "embeddings.position_embedding.weight": bf16(0.02 * rng.standard_normal((4, vh))),
         pre + "post_layernorm.weight": bf16(np.ones(vh)), pre + "post_layernorm.bias": bf16(np.zeros(vh))}
    lp = pre + "encoder.layers.0."
    for nm in ("q_proj", "k_proj", "v_proj", "out_proj"):
        t[lp + f"self_attn.{nm}.weight"] = bf16(0.05 * rng.standard_normal((vh, vh)))
        t[lp + f"self_attn.{nm}.bias"] = bf16(np.zeros(vh))
    for nm in ("layer_norm1", "layer_norm2"):
        t[lp + nm + ".weight"], t[lp + nm + ".bias"] = bf16(np.ones(vh)), bf16(np.zeros(vh))
    t[lp + "mlp.fc1.weight"], t[lp + "mlp.fc1.bias"] = bf16(0.05 * rng.standard_normal((vi, vh))), bf16(np.zeros(vi))
    t[lp + "mlp.fc2.weight"], t[lp + "mlp.fc2.bias"] = bf16(0.05 * rng.standard_normal((vh, vi))), bf16(np.zeros(vh))
    t["multi_modal_projector.mm_input_projection_weight"] = bf16(0.05 * rng.standard_normal((vh, D)))
    t["multi_modal_projector.mm_soft_emb_norm.weight"] = bf16(0.1 * rng.standard_normal(vh))
    return t


# ----------------------------------------------------------------------------- Qwen3 and Llama 3
def plain_model(seed, kind, plant):
    """kind 'qwen3' (q/k norm, plain gains) or 'llama3' (no q/k norm, llama3 rope scaling). 2 layers, tested layer 1."""
    rng = np.random.default_rng(seed)
    n_kv, eps = 2, (1e-6 if kind == "qwen3" else 1e-5)
    qk = kind == "qwen3"
    layers = [random_layer(rng, n_kv, "plain", qk) for _ in range(2)]
    embed = 0.5 * rng.standard_normal((VOCAB, D))
    final_norm = 1.0 + 0.2 * rng.standard_normal(D)
    sae_in = jumprelu_sae(rng, 128, D, b_dec_norm=1.5)
    sae_out = jumprelu_sae(rng, 96, D)
    L = layers[1]
    g_in = gain(L, "input_layernorm", "plain")
    cons_q, cons_k = {}, {}
    pe, pp = plant.get("exact_vs_proxy"), plant.get("positional")
    if pe:
        m = pe["coordinate"]
        L["q_norm"][m], L["k_norm"][m] = 1.9, 1.9
        for f in (pe["query"], pe["key"]):
            set_norm(sae_in, f, 0.5)
        for f in (pe["distractor_query"], pe["distractor_key"]):
            set_norm(sae_in, f, 3.0)
        X = folded(sae_in, g_in)
        plant_exact_vs_proxy(rng, cons_q, cons_k, X, pe["query"], pe["key"], pe["distractor_query"],
                             pe["distractor_key"], pe["head"], pe["head"] // (H // n_kv), m, pe["small"], pe["big"])
    rs = LLAMA_ROPE
    if pp:
        inv_s, bands = llama3_inv_freq(500000.0, DH, rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"],
                                       rs["original_max_position_embeddings"])
        assert set(bands) == {"kept", "smoothed", "divided"}, f"llama3 bands {bands}"
        pp["bands"] = bands
        tq, tk = phased_pair(rng, DH, inv_s, pp["delta_star"], np.array(pp["amplitudes"]))
        xb = r32(sae_in["b_dec"]) * g_in
        cons_q.setdefault(pp["head"], []).append((xb, tq))
        cons_k.setdefault(pp["head"] // (H // n_kv), []).append((xb, tk))
    apply_cons(L, cons_q, cons_k)

    if pe:
        check_exact_vs_proxy(L, "plain", n_kv, sae_in, eps, pe)
    if pp:
        deltas = log_deltas(TOP_MAX_POS)
        inv_u = default_inv_freq(500000.0, DH)
        ps = bdec_profile(L, "plain", n_kv, sae_in, eps, pp["head"], inv_s, deltas)
        pu = bdec_profile(L, "plain", n_kv, sae_in, eps, pp["head"], inv_u, deltas)
        full = bdec_profile(L, "plain", n_kv, sae_in, eps, pp["head"], inv_s, range(TOP_MAX_POS))
        peak_s, peak_u = deltas[int(np.argmax(ps))], deltas[int(np.argmax(pu))]
        assert peak_s == pp["delta_star"], f"llama3 positional plant peaks at {peak_s}"
        assert int(np.argmax(full)) == pp["delta_star"], f"over every distance it peaks at {int(np.argmax(full))}"
        assert peak_u != peak_s, "the peak does not depend on the llama3 scaling"
        pp.update(peak_scaled=peak_s, peak_unscaled=peak_u, score_at_peak=round(float(ps[deltas.index(peak_s)]), 4),
                  score_at_unscaled_peak=round(float(pu[deltas.index(peak_u)]), 4))

    name = f"tiny-{kind}"
    out = ensure(os.path.join(HERE, name))
    t = {"model.embed_tokens.weight": bf16(embed), "model.norm.weight": bf16(final_norm)}
    for i, Li in enumerate(layers):
        t.update(layer_tensors(f"model.layers.{i}.", Li))
    common = {"hidden_size": D, "intermediate_size": DMLP, "num_hidden_layers": 2, "num_attention_heads": H,
              "num_key_value_heads": n_kv, "head_dim": DH, "rms_norm_eps": eps, "max_position_embeddings": TOP_MAX_POS,
              "vocab_size": VOCAB, "attention_bias": False, "attention_dropout": 0.0, "hidden_act": "silu",
              "initializer_range": 0.02, "use_cache": True, "torch_dtype": "bfloat16", "transformers_version": "4.57.0"}
    if kind == "qwen3":
        cfg = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", **common, "rope_theta": 1000000.0,
               "rope_scaling": None, "sliding_window": None, "use_sliding_window": False, "max_window_layers": 2,
               "tie_word_embeddings": True, "bos_token_id": 60, "eos_token_id": 61}
    else:
        t["lm_head.weight"] = bf16(0.5 * rng.standard_normal((VOCAB, D)))
        cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", **common, "rope_theta": 500000.0,
               "rope_scaling": dict(LLAMA_ROPE), "mlp_bias": False, "pretraining_tp": 1,
               "tie_word_embeddings": False, "bos_token_id": 60, "eos_token_id": 61}
    write_safetensors(os.path.join(out, "model.safetensors"), t, {"format": "pt"})
    write_json(os.path.join(out, "config.json"), cfg)
    root = os.path.join(HERE, f"tiny-saelens-{kind}")
    arch, k = ("jumprelu", None) if kind == "qwen3" else ("topk", 8)
    saelens_write(root, "blocks.1.hook_resid_pre", sae_in, name, arch, k)
    saelens_write(root, "blocks.1.hook_resid_post", sae_out, name, arch, k)
    return plant


LLAMA_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
              "original_max_position_embeddings": 64}

PLANTS = {
    "gemma3": {"layer": 3,
               "exact_vs_proxy": dict(head=1, query=21, key=77, distractor_query=40, distractor_key=9, coordinate=5,
                                      small=0.08, big=2.0),
               "positional": dict(head=3, delta_star=3, amplitudes=[1.0, 0.7, 0.4, 0.2, 0.1, 0.1, 0.1, 0.1]),
               "ov": dict(head=2, value=63, output=30, strength=3.0)},
    "gemma3_nested": {"layer": 3,
                      "exact_vs_proxy": dict(head=2, query=100, key=12, distractor_query=55, distractor_key=87,
                                             coordinate=11, small=0.08, big=2.0)},
    "qwen3": {"layer": 1,
              "exact_vs_proxy": dict(head=2, query=33, key=90, distractor_query=7, distractor_key=118, coordinate=3,
                                     small=0.08, big=2.0)},
    "llama3": {"layer": 1,
               "positional": dict(head=1, delta_star=5, amplitudes=[0.15, 1.0, 0.6, 0.3, 0.1, 0.1, 0.1, 0.1])},
}


if __name__ == "__main__":
    gemma3(20260101, False, PLANTS["gemma3"])
    gemma3(20260102, True, PLANTS["gemma3_nested"])
    plain_model(20260103, "qwen3", PLANTS["qwen3"])
    plain_model(20260104, "llama3", PLANTS["llama3"])
    path = os.path.join(HERE, "planted.json")
    with open(path) as f:
        planted = json.load(f)
    for k, v in PLANTS.items():
        planted[k] = v
    with open(path, "w") as f:
        json.dump(planted, f, indent=2, default=int)
    print("2026 datasets written; planted structure verified")
    print(json.dumps(PLANTS, indent=1))
