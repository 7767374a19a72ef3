#!/usr/bin/python3
"""Generate SAE Lab's shipped test datasets: tiny models and SAEs in the real on-disk formats.

Run with Debian's python3 (numpy only):  /usr/bin/python3 datasets/generate.py
Output is deterministic (seeded) and committed; datasets/README.md lists what is planted.

Everything is written with numpy and the standard library: np.savez / np.savez_compressed for
Gemma Scope params.npz, a small writer that follows the safetensors spec for .safetensors, json
and gzip for Neuronpedia exports. The script checks, with float64 numpy on the exact stored
(BF16-rounded) weights, that every planted structure comes out on top, and fails otherwise.
"""
import gzip
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RNG = np.random.default_rng(20240806)


# ----------------------------------------------------------------------------- writers
def bf16_round(a):
    """float32 -> bf16 bit patterns (uint16), round to nearest even (as torch does)."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
    return ((bits + rounding) >> 16).astype(np.uint16)


def bf16_to_f32(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> (dtype_str, ndarray with the raw element type). Sorted by name, contiguous."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    blobs = []
    for name in sorted(tensors):
        dtype, arr = tensors[name]
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)
    return offset


def f32(a):
    return ("F32", np.asarray(a, dtype=np.float32))


def bf16(a):
    return ("BF16", bf16_round(a))


def ensure(path):
    os.makedirs(path, exist_ok=True)
    return path


def unit_rows(n, d, norm_sigma=0.5):
    """Random rows with heavy-tailed (log-normal) norms, as real SAE decoders have."""
    x = RNG.standard_normal((n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x * np.exp(norm_sigma * RNG.standard_normal((n, 1)))


def rope_matrix(delta, d_head, theta, pairing="rotate_half"):
    """R(delta) acting on a column vector: rotate_half pairs j with j + d_head/2."""
    half = d_head // 2
    inv = theta ** (-np.arange(half) * 2.0 / d_head)
    R = np.zeros((d_head, d_head))
    for j in range(half):
        a, b = (j, j + half) if pairing == "rotate_half" else (2 * j, 2 * j + 1)
        c, s = np.cos(delta * inv[j]), np.sin(delta * inv[j])
        R[a, a], R[a, b], R[b, a], R[b, b] = c, -s, s, c
    return R


# ----------------------------------------------------------------------------- tiny Gemma 2
G = dict(d_model=48, n_heads=4, n_kv=2, d_head=16, n_layers=2, vocab=64, d_mlp=96, theta=10000.0)
N_IN, N_OUT = 128, 96            # SAE widths: resid_post of layer 0 (input to layer 1), resid_post of layer 1
LAYER = 1                       # the layer whose attention the tables read

PLANT = {
    "qk": dict(head=1, query=17, key=42, strength=3.0),
    "ov": dict(head=2, value=5, output=63, strength=3.0),
    "prev_token": dict(head=3),
    "spread": dict(heads=(0, 2), query=88, key=101, per_head_strength=2.35, distractor_strength=2.65, distractors=6),
}


def gemma_tiny():
    d, H, KV, dh = G["d_model"], G["n_heads"], G["n_kv"], G["d_head"]
    grp = H // KV
    sd = 0.02
    layers = []
    for _ in range(G["n_layers"]):
        layers.append(dict(
            input_layernorm=0.3 * RNG.standard_normal(d),
            post_attention_layernorm=0.3 * RNG.standard_normal(d),
            pre_feedforward_layernorm=0.3 * RNG.standard_normal(d),
            post_feedforward_layernorm=0.3 * RNG.standard_normal(d),
            q=RNG.standard_normal((H * dh, d)) * sd * 4,
            k=RNG.standard_normal((KV * dh, d)) * sd * 4,
            v=RNG.standard_normal((KV * dh, d)) * sd * 4,
            o=RNG.standard_normal((d, H * dh)) * sd * 4,
            gate=RNG.standard_normal((G["d_mlp"], d)) * sd,
            up=RNG.standard_normal((G["d_mlp"], d)) * sd,
            down=RNG.standard_normal((d, G["d_mlp"])) * sd,
        ))
    embed = RNG.standard_normal((G["vocab"], d)) * 0.5
    final_norm = 0.3 * RNG.standard_normal(d)

    # SAEs (Gemma Scope JumpReLU layout)
    sae_in = dict(W_dec=unit_rows(N_IN, d), b_dec=0.1 * RNG.standard_normal(d))
    sae_in["W_enc"] = sae_in["W_dec"].T * 0.8 + 0.05 * RNG.standard_normal((d, N_IN))
    sae_in["b_enc"] = -0.1 * np.abs(RNG.standard_normal(N_IN))
    sae_in["threshold"] = 0.05 + 0.05 * np.abs(RNG.standard_normal(N_IN))
    sae_out = dict(W_dec=unit_rows(N_OUT, d), b_dec=0.1 * RNG.standard_normal(d))
    sae_out["W_enc"] = sae_out["W_dec"].T * 0.8 + 0.05 * RNG.standard_normal((d, N_OUT))
    sae_out["b_enc"] = -0.1 * np.abs(RNG.standard_normal(N_OUT))
    sae_out["threshold"] = 0.05 + 0.05 * np.abs(RNG.standard_normal(N_OUT))
    # The previous-token plant reads b_dec: make it a clear direction.
    sae_in["b_dec"] = 1.5 * sae_in["b_dec"] / np.linalg.norm(sae_in["b_dec"])

    L = layers[LAYER]
    g_in = 1.0 + bf16_to_f32(bf16_round(L["input_layernorm"])).astype(np.float64)
    g_post = 1.0 + bf16_to_f32(bf16_round(L["post_attention_layernorm"])).astype(np.float64)
    Dt = sae_in["W_dec"] * g_in                    # D~ rows
    Et = sae_out["W_enc"].T * g_post               # E~ rows

    # Orthonormal d_head directions, handed out per KV group and per query head so plants do not collide.
    basis = np.linalg.qr(RNG.standard_normal((dh, dh)))[0]
    used = {}

    def direction(slot):
        i = used.get(slot, 0)
        used[slot] = i + 1
        return basis[:, i]

    def boost_in(i):
        """Planted features get a large decoder norm, so the plant does not leak into bigger features."""
        sae_in["W_dec"][i] *= 3.0 / np.linalg.norm(sae_in["W_dec"][i])
        Dt[i] = sae_in["W_dec"][i] * g_in

    def plant_qk(head, qi, kj, s):
        boost_in(qi); boost_in(kj)
        u = direction(("kv", head // grp))
        g = head // grp
        # q_qi gains s*u and k_kj gains |s|*u, so QK[qi, kj] gains s*|s| (the sign of s sets the sign)
        L["q"][head * dh:(head + 1) * dh] += s * np.outer(u, Dt[qi] / (Dt[qi] @ Dt[qi]))
        L["k"][g * dh:(g + 1) * dh] += abs(s) * np.outer(u, Dt[kj] / (Dt[kj] @ Dt[kj]))

    def plant_ov(head, vi, oj, s):
        boost_in(vi)
        sae_out["W_enc"][:, oj] *= 3.0 / np.linalg.norm(sae_out["W_enc"][:, oj])
        Et[oj] = sae_out["W_enc"][:, oj] * g_post
        u = direction(("kv", head // grp))
        g = head // grp
        L["v"][g * dh:(g + 1) * dh] += s * np.outer(u, Dt[vi] / (Dt[vi] @ Dt[vi]))
        L["o"][:, head * dh:(head + 1) * dh] += s * np.outer(Et[oj] / (Et[oj] @ Et[oj]), u)

    p = PLANT["qk"]; plant_qk(p["head"], p["query"], p["key"], p["strength"])
    p = PLANT["ov"]; plant_ov(p["head"], p["value"], p["output"], p["strength"])
    p = PLANT["spread"]
    for h in p["heads"]:
        plant_qk(h, p["query"], p["key"], p["per_head_strength"])
    distractors = []
    free = [f for f in range(N_IN) if f not in (17, 42, 5, 88, 101)]
    pick = RNG.permutation(free)
    for n, h in enumerate(p["heads"]):
        for t in range(p["distractors"]):
            qi, kj = int(pick[2 * (n * p["distractors"] + t)]), int(pick[2 * (n * p["distractors"] + t) + 1])
            sign = 1.0 if (t % 2 == 0) == (n == 0) else -1.0
            plant_qk(h, qi, kj, sign * p["distractor_strength"])
            distractors.append((h, qi, kj))
    p["distractor_pairs"] = distractors

    # previous-token head: q = R(1)^T k for the (normed) b_dec direction, energy in the fast RoPE pairs
    h = PLANT["prev_token"]["head"]; g = h // grp
    bt = sae_in["b_dec"] * g_in
    k_t = np.zeros(dh); k_t[[0, 1, dh // 2, dh // 2 + 1]] = [1.0, 0.6, 0.4, 0.8]
    k_t *= 2.0 / np.linalg.norm(k_t)
    q_t = rope_matrix(1, dh, G["theta"]).T @ k_t * 2.0
    L["q"][h * dh:(h + 1) * dh] += np.outer(q_t, bt / (bt @ bt))
    L["k"][g * dh:(g + 1) * dh] += np.outer(k_t, bt / (bt @ bt))

    # Store: BF16 weights in HF names, two shards + index.
    shard1, shard2 = {}, {}
    shard1["model.embed_tokens.weight"] = bf16(embed)
    for i, Li in enumerate(layers):
        dst = shard1 if i == 0 else shard2
        pre = f"model.layers.{i}."
        for nm in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"):
            dst[pre + nm + ".weight"] = bf16(Li[nm])
        dst[pre + "self_attn.q_proj.weight"] = bf16(Li["q"])
        dst[pre + "self_attn.k_proj.weight"] = bf16(Li["k"])
        dst[pre + "self_attn.v_proj.weight"] = bf16(Li["v"])
        dst[pre + "self_attn.o_proj.weight"] = bf16(Li["o"])
        dst[pre + "mlp.gate_proj.weight"] = bf16(Li["gate"])
        dst[pre + "mlp.up_proj.weight"] = bf16(Li["up"])
        dst[pre + "mlp.down_proj.weight"] = bf16(Li["down"])
    shard2["model.norm.weight"] = bf16(final_norm)

    out = ensure(os.path.join(HERE, "tiny-gemma2"))
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    total = 0
    weight_map = {}
    for nm, sh in zip(names, (shard1, shard2)):
        total += write_safetensors(os.path.join(out, nm), sh, {"format": "pt"})
        for t in sh:
            weight_map[t] = nm
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    config = {
        "architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2",
        "hidden_size": d, "num_hidden_layers": G["n_layers"], "num_attention_heads": H, "num_key_value_heads": KV,
        "head_dim": dh, "intermediate_size": G["d_mlp"], "vocab_size": G["vocab"], "rms_norm_eps": 1e-6,
        "rope_theta": G["theta"], "max_position_embeddings": 256, "query_pre_attn_scalar": dh,
        "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "sliding_window": 32,
        "attention_bias": False, "hidden_activation": "gelu_pytorch_tanh", "torch_dtype": "bfloat16",
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    # Gemma Scope layout: layer_{L}/width_{W}/average_l0_{N}/params.npz
    p_in = ensure(os.path.join(HERE, "tiny-gemma-scope", "layer_0", "width_128", "average_l0_12"))
    np.savez(os.path.join(p_in, "params.npz"), **{k: v.astype(np.float32) for k, v in sae_in.items()})
    p_out = ensure(os.path.join(HERE, "tiny-gemma-scope", "layer_1", "width_96", "average_l0_9"))
    np.savez_compressed(os.path.join(p_out, "params.npz"), **{k: v.astype(np.float32) for k, v in sae_out.items()})
    return layers, sae_in, sae_out


def gemma_check(layers, sae_in, sae_out):
    """Recompute the tables from the stored files' exact values and assert the plants rank first."""
    d, H, KV, dh = G["d_model"], G["n_heads"], G["n_kv"], G["d_head"]
    grp = H // KV
    L = layers[LAYER]
    rd = lambda a: bf16_to_f32(bf16_round(a)).astype(np.float64)
    g_in, g_post = 1 + rd(L["input_layernorm"]), 1 + rd(L["post_attention_layernorm"])
    D = sae_in["W_dec"].astype(np.float32).astype(np.float64) * g_in
    E = sae_out["W_enc"].astype(np.float32).astype(np.float64).T * g_post
    Q, K, V, P = D @ rd(L["q"]).T, D @ rd(L["k"]).T, D @ rd(L["v"]).T, E @ rd(L["o"])
    qk = [Q[:, h * dh:(h + 1) * dh] @ K[:, (h // grp) * dh:(h // grp + 1) * dh].T for h in range(H)]
    ov = [P[:, h * dh:(h + 1) * dh] @ V[:, (h // grp) * dh:(h // grp + 1) * dh].T for h in range(H)]

    def rank(m, i, j):
        return int((np.abs(m) > abs(m[i, j])).sum()) + 1

    p = PLANT["qk"]; r = rank(qk[p["head"]], p["query"], p["key"])
    assert r == 1, f"planted QK ranks {r}"
    p = PLANT["ov"]; r = rank(ov[p["head"]], p["output"], p["value"])
    assert r == 1, f"planted OV ranks {r}"
    p = PLANT["spread"]
    total = sum(qk)
    r_sum = rank(total, p["query"], p["key"])
    per_head = [rank(qk[h], p["query"], p["key"]) for h in range(H)]
    assert r_sum == 1, f"spread pair ranks {r_sum} in the summed table"
    assert min(per_head) > p["distractors"], f"spread pair ranks {per_head} per head"
    p["per_head_ranks"] = per_head
    # previous-token head: b_dec profile peaks at delta = 1
    h = PLANT["prev_token"]["head"]
    b = sae_in["b_dec"].astype(np.float32).astype(np.float64) * g_in
    q, k = b @ rd(L["q"]).T[:, h * dh:(h + 1) * dh], b @ rd(L["k"]).T[:, (h // grp) * dh:(h // grp + 1) * dh]
    prof = [q @ rope_matrix(-delta, dh, G["theta"]) @ k for delta in range(0, 64)]
    assert int(np.argmax(prof)) == 1, f"previous-token profile peaks at {int(np.argmax(prof))}"
    PLANT["prev_token"]["profile_0_1_2"] = [round(float(x), 4) for x in prof[:3]]


# ----------------------------------------------------------------------------- tiny GPT-2
T = dict(d_model=32, n_heads=4, d_head=8, n_layers=2, vocab=64, n_ctx=64)
GPT_PLANT = {"qk": dict(head=1, query=3, key=7, strength=3.0), "ov": dict(head=3, value=9, output=20, strength=3.0)}


def gpt2_tiny():
    d, H, dh = T["d_model"], T["n_heads"], T["d_head"]
    t = {}
    layers = []
    for i in range(T["n_layers"]):
        layers.append(dict(
            ln_1_w=1 + 0.2 * RNG.standard_normal(d), ln_1_b=0.05 * RNG.standard_normal(d),
            c_attn_w=RNG.standard_normal((d, 3 * d)) * 0.1, c_attn_b=0.05 * RNG.standard_normal(3 * d),
            c_proj_w=RNG.standard_normal((d, d)) * 0.1, c_proj_b=0.02 * RNG.standard_normal(d),
            ln_2_w=1 + 0.2 * RNG.standard_normal(d), ln_2_b=0.05 * RNG.standard_normal(d),
            fc_w=RNG.standard_normal((d, 4 * d)) * 0.05, fc_b=np.zeros(4 * d),
            mproj_w=RNG.standard_normal((4 * d, d)) * 0.05, mproj_b=np.zeros(d),
        ))
    sae_in = dict(W_dec=unit_rows(64, d), b_dec=0.1 * RNG.standard_normal(d))
    sae_in["W_enc"] = sae_in["W_dec"].T + 0.05 * RNG.standard_normal((d, 64))
    sae_in["b_enc"] = -0.05 * np.abs(RNG.standard_normal(64))
    sae_out = dict(W_dec=unit_rows(48, d), b_dec=0.1 * RNG.standard_normal(d))
    sae_out["W_enc"] = sae_out["W_dec"].T + 0.05 * RNG.standard_normal((d, 48))
    sae_out["b_enc"] = -0.05 * np.abs(RNG.standard_normal(48))

    L = layers[1]
    C = np.eye(d) - np.ones((d, d)) / d
    Dt = (sae_in["W_dec"] @ C) * L["ln_1_w"]        # centre, then scale (LayerNorm on a direction)
    Et = sae_out["W_enc"].T @ C                     # the res-jb SAEs read the centred stream
    basis = np.linalg.qr(RNG.standard_normal((dh, dh)))[0]
    p = GPT_PLANT["qk"]; h = p["head"]; u = basis[:, 0]
    L["c_attn_w"][:, h * dh:(h + 1) * dh] += p["strength"] * np.outer(Dt[p["query"]] / (Dt[p["query"]] @ Dt[p["query"]]), u)
    L["c_attn_w"][:, d + h * dh:d + (h + 1) * dh] += p["strength"] * np.outer(Dt[p["key"]] / (Dt[p["key"]] @ Dt[p["key"]]), u)
    p = GPT_PLANT["ov"]; h = p["head"]; u = basis[:, 1]
    L["c_attn_w"][:, 2 * d + h * dh:2 * d + (h + 1) * dh] += p["strength"] * np.outer(Dt[p["value"]] / (Dt[p["value"]] @ Dt[p["value"]]), u)
    L["c_proj_w"][h * dh:(h + 1) * dh, :] += p["strength"] * np.outer(u, Et[p["output"]] / (Et[p["output"]] @ Et[p["output"]]))

    t["wte.weight"] = f32(RNG.standard_normal((T["vocab"], d)) * 0.1)
    t["wpe.weight"] = f32(RNG.standard_normal((T["n_ctx"], d)) * 0.01)
    for i, Li in enumerate(layers):
        pre = f"h.{i}."
        t[pre + "ln_1.weight"], t[pre + "ln_1.bias"] = f32(Li["ln_1_w"]), f32(Li["ln_1_b"])
        t[pre + "attn.c_attn.weight"], t[pre + "attn.c_attn.bias"] = f32(Li["c_attn_w"]), f32(Li["c_attn_b"])
        t[pre + "attn.c_proj.weight"], t[pre + "attn.c_proj.bias"] = f32(Li["c_proj_w"]), f32(Li["c_proj_b"])
        t[pre + "attn.bias"] = f32(np.tril(np.ones((T["n_ctx"], T["n_ctx"])))[None, None])   # causal-mask buffer
        t[pre + "ln_2.weight"], t[pre + "ln_2.bias"] = f32(Li["ln_2_w"]), f32(Li["ln_2_b"])
        t[pre + "mlp.c_fc.weight"], t[pre + "mlp.c_fc.bias"] = f32(Li["fc_w"]), f32(Li["fc_b"])
        t[pre + "mlp.c_proj.weight"], t[pre + "mlp.c_proj.bias"] = f32(Li["mproj_w"]), f32(Li["mproj_b"])
    t["ln_f.weight"], t["ln_f.bias"] = f32(1 + 0.1 * RNG.standard_normal(d)), f32(np.zeros(d))
    out = ensure(os.path.join(HERE, "tiny-gpt2"))
    write_safetensors(os.path.join(out, "model.safetensors"), t, {"format": "pt"})
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": d, "n_head": H, "n_layer": T["n_layers"],
              "n_ctx": T["n_ctx"], "n_positions": T["n_ctx"], "vocab_size": T["vocab"], "layer_norm_epsilon": 1e-5,
              "activation_function": "gelu_new"}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    # SAELens layout: cfg.json + sae_weights.safetensors (+ sparsity.safetensors)
    for hook, sae, nid in (("blocks.1.hook_resid_pre", sae_in, "tiny-gpt2/1-res-tiny"),
                           ("blocks.1.hook_resid_post", sae_out, "tiny-gpt2/1-res-post-tiny")):
        folder = ensure(os.path.join(HERE, "tiny-saelens", hook))
        d_sae = sae["W_dec"].shape[0]
        write_safetensors(os.path.join(folder, "sae_weights.safetensors"),
                          {k: f32(v) for k, v in sae.items()})
        write_safetensors(os.path.join(folder, "sparsity.safetensors"),
                          {"sparsity": f32(-1.0 - 2.0 * RNG.random(d_sae))})
        cfg = {"d_in": d, "d_sae": d_sae, "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": True,
               "normalize_activations": "none", "reshape_activations": "none", "architecture": "standard",
               "metadata": {"model_name": "tiny-gpt2", "hook_name": hook, "hook_head_index": None,
                            "model_class_name": "HookedTransformer", "prepend_bos": True, "context_size": 64,
                            "model_from_pretrained_kwargs": {"center_writing_weights": True},
                            "neuronpedia_id": nid, "sae_lens_version": "6.18.0"}}
        with open(os.path.join(folder, "cfg.json"), "w") as f:
            json.dump(cfg, f, indent=2)
    return layers, sae_in, sae_out


def gpt2_check(layers, sae_in, sae_out):
    d, H, dh = T["d_model"], T["n_heads"], T["d_head"]
    L = {k: v.astype(np.float32).astype(np.float64) for k, v in layers[1].items()}
    C = np.eye(d) - np.ones((d, d)) / d
    D = (sae_in["W_dec"].astype(np.float32).astype(np.float64) @ C) * L["ln_1_w"]
    E = sae_out["W_enc"].astype(np.float32).astype(np.float64).T @ C
    W = L["c_attn_w"]
    p = GPT_PLANT["qk"]; h = p["head"]
    qk = (D @ W[:, h * dh:(h + 1) * dh]) @ (D @ W[:, d + h * dh:d + (h + 1) * dh]).T
    assert np.unravel_index(np.argmax(np.abs(qk)), qk.shape) == (p["query"], p["key"]), "GPT-2 QK plant"
    p = GPT_PLANT["ov"]; h = p["head"]
    ov = (E @ L["c_proj_w"][h * dh:(h + 1) * dh, :].T) @ (D @ W[:, 2 * d + h * dh:2 * d + (h + 1) * dh]).T
    assert np.unravel_index(np.argmax(np.abs(ov)), ov.shape) == (p["output"], p["value"]), "GPT-2 OV plant"


# ----------------------------------------------------------------------------- Neuronpedia labels
def labels():
    out = ensure(os.path.join(HERE, "tiny-neuronpedia"))
    special = {17: "planted query feature (attends to 42)", 42: "planted key feature (attended by 17)",
               5: "planted value feature (writes output 63)", 88: "spread query feature (heads 0 and 2)",
               101: "spread key feature (heads 0 and 2)"}
    rows = []
    for i in range(N_IN):
        if i in (30, 31, 77):          # gaps: unlabelled features
            continue
        desc = special.get(i, f"tiny input feature {i}")
        if i % 3 == 0:
            desc = " " + desc          # real exports often start with a space
        rows.append({"modelId": "tiny-gemma2", "layer": "0-tinyscope-res-128", "index": str(i), "description": desc,
                     "scoreV1": 0, "scoreV2": None, "autoInterpModel": "gpt-4o-mini"})
    for i in (10, 20):                 # duplicates: a second explanation for the same index
        rows.append({"modelId": "tiny-gemma2", "layer": "0-tinyscope-res-128", "index": str(i),
                     "description": f" second explanation of feature {i}", "scoreV1": 0, "scoreV2": None,
                     "autoInterpModel": "gpt-4o-mini"})
    order = RNG.permutation(len(rows))
    with open(os.path.join(out, "tiny-gemma2_0-tinyscope-res-128.json"), "w") as f:
        json.dump({"explanations": [rows[k] for k in order], "explanationsCount": len(rows)}, f)

    # Current bulk export: v1/{modelId}/{sourceId}/explanations/batch-N.jsonl.gz, several explanations per feature.
    folder = ensure(os.path.join(out, "v1", "tiny-gemma2", "1-tinyscope-res-96", "explanations"))
    lines = []
    n = 0
    for i in range(N_OUT):
        if i == 50:
            continue
        desc = "planted output feature (written by value 5)" if i == 63 else f"tiny output feature {i}"
        lines.append({"id": f"e{n}", "modelId": "tiny-gemma2", "layer": "1-tinyscope-res-96", "index": str(i),
                      "description": desc, "typeName": "oai_token-act-pair", "explanationModelName": "gpt-4o-mini",
                      "createdAt": "2024-08-01T00:00:00.000Z"}); n += 1
        if i % 4 == 0:
            lines.append({"id": f"e{n}", "modelId": "tiny-gemma2", "layer": "1-tinyscope-res-96", "index": str(i),
                          "description": f"refreshed: {desc}", "typeName": "np_max-act-logits",
                          "explanationModelName": "gemini-2.5-flash", "createdAt": "2025-06-01T00:00:00.000Z"}); n += 1
    half = len(lines) // 2
    for b, chunk in enumerate((lines[:half], lines[half:])):
        with gzip.GzipFile(os.path.join(folder, f"batch-{b}.jsonl.gz"), "wb", mtime=0) as f:
            f.write(("\n".join(json.dumps(x) for x in chunk) + "\n").encode())
    # GPT-2 tiny SAE labels, old format
    rows = [{"modelId": "tiny-gpt2", "layer": "1-res-tiny", "index": str(i),
             "description": {3: "planted GPT-2 query", 7: "planted GPT-2 key", 9: "planted GPT-2 value"}.get(i, f"gpt2 feature {i}"),
             "scoreV1": 0, "scoreV2": None, "autoInterpModel": "gpt-4o-mini"} for i in range(64)]
    with open(os.path.join(out, "tiny-gpt2_1-res-tiny.json"), "w") as f:
        json.dump({"explanations": rows, "explanationsCount": len(rows)}, f)


if __name__ == "__main__":
    layers, sae_in, sae_out = gemma_tiny()
    gemma_check(layers, sae_in, sae_out)
    gl, gi, go = gpt2_tiny()
    gpt2_check(gl, gi, go)
    labels()
    with open(os.path.join(HERE, "planted.json"), "w") as f:
        json.dump({"gemma2": {"layer": LAYER, **PLANT}, "gpt2": {"layer": 1, **GPT_PLANT}}, f, indent=2, default=int)
    print("datasets written; planted structure verified:", json.dumps(PLANT["spread"]["per_head_ranks"]))
