#!/usr/bin/python3
"""Generate datasets/tiny-composition/: a tiny Gemma-2-style model with planted head-to-head composition.

Run with Debian's python3 (numpy only):  /usr/bin/python3 datasets/generate_composition.py
Seeded and deterministic; the other fixtures are not touched (this script only writes tiny-composition/).
It reuses generate.py's writers (safetensors spec writer, BF16 rounding, folder helper).

What is written:
  tiny-composition/model/                      config.json + one BF16 model.safetensors (HF Gemma 2 names): d_model 32,
                                               3 layers, 4 query heads, 2 KV heads, d_head 8, RMSNorm gains stored as
                                               offsets from 1, a post-attention norm on every layer
  tiny-composition/blocks.1.hook_resid_pre/    SAELens v6 JumpReLU SAE (cfg.json, sae_weights.safetensors): 64
                                               features on the residual stream between layer 0 and layer 1
  tiny-composition/planted.json                the planted paths below, machine-readable

Planted (kernel-ext/docs/math.md §19):
  - Q-composition L0H1 -> L1H2 through SAE feature 11: L0H1's OV reads a fixed direction a and writes feature 11's
    encoder direction (after the post-attention gain); L1H2's query reads feature 11's decoder direction (after the
    input-norm gain), its key a fixed direction c. The strongest path of the model, feature 11 its top feature.
  - K-composition L0H3 -> L2H0 through feature 37 (two layers apart, weaker): L0H3 writes e_37, the key side of KV
    head 0 of layer 2 reads d_37, L2H0's query a fixed direction. The strongest K-composition path, feature 37 first.
The script recomputes the folded composition scores in float64 from the stored (BF16-rounded) values and fails if the
plants do not come out on top.
"""
import json
import os

import numpy as np

from generate import bf16, bf16_round, bf16_to_f32, ensure, f32, write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "tiny-composition")
RNG = np.random.default_rng(20260419)

C = dict(d_model=32, n_heads=4, n_kv=2, d_head=8, n_layers=3, vocab=64, d_mlp=64, theta=10000.0, n_sae=64)
PLANT = {
    "q": dict(source=[0, 1], target=[1, 2], feature=11, strength=3.0),
    "k": dict(source=[0, 3], target=[2, 0], feature=37, strength=1.6),
}


def unit(v):
    return v / np.linalg.norm(v)


def build():
    d, H, KV, dh, nl = C["d_model"], C["n_heads"], C["n_kv"], C["d_head"], C["n_layers"]
    grp = H // KV
    sd = 0.08
    layers = []
    for _ in range(nl):
        layers.append(dict(
            input_layernorm=0.3 * RNG.standard_normal(d),
            post_attention_layernorm=0.3 * RNG.standard_normal(d),
            pre_feedforward_layernorm=0.3 * RNG.standard_normal(d),
            post_feedforward_layernorm=0.3 * RNG.standard_normal(d),
            q=RNG.standard_normal((H * dh, d)) * sd,
            k=RNG.standard_normal((KV * dh, d)) * sd,
            v=RNG.standard_normal((KV * dh, d)) * sd,
            o=RNG.standard_normal((d, H * dh)) * sd,
            gate=RNG.standard_normal((C["d_mlp"], d)) * 0.02,
            up=RNG.standard_normal((C["d_mlp"], d)) * 0.02,
            down=RNG.standard_normal((d, C["d_mlp"])) * 0.02,
        ))
    embed = RNG.standard_normal((C["vocab"], d)) * 0.5
    final_norm = 0.3 * RNG.standard_normal(d)

    n = C["n_sae"]
    w_dec = RNG.standard_normal((n, d))
    w_dec /= np.linalg.norm(w_dec, axis=1, keepdims=True)
    w_dec *= np.exp(0.3 * RNG.standard_normal((n, 1)))
    sae = dict(W_dec=w_dec, b_dec=0.1 * RNG.standard_normal(d))
    sae["W_enc"] = w_dec.T / (np.linalg.norm(w_dec, axis=1) ** 2) * 0.9 + 0.05 * RNG.standard_normal((d, n))
    sae["b_enc"] = -0.1 * np.abs(RNG.standard_normal(n))
    sae["threshold"] = 0.05 + 0.05 * np.abs(RNG.standard_normal(n))

    rd = lambda a: bf16_to_f32(bf16_round(a)).astype(np.float64)
    basis = np.linalg.qr(RNG.standard_normal((dh, dh)))[0]

    def plant_ov(layer, head, read, write, s):
        """OV of (layer, head) maps the residual direction `read` to `write` (both as the model sees them)."""
        L = layers[layer]
        g_in, g_post = 1 + rd(L["input_layernorm"]), 1 + rd(L["post_attention_layernorm"])
        u = basis[:, 0]
        g = head // grp
        r = read / g_in
        L["v"][g * dh:(g + 1) * dh] += s * np.outer(u, r / (r @ read))          # (x ⊙ g_in)·Vᵀ gains s (x·read/…) u
        w = unit(write) / g_post
        L["o"][:, head * dh:(head + 1) * dh] += s * np.outer(w, u)               # z·Oᵀ ⊙ g_post gains s (z·u) ŵrite

    def plant_qk(layer, head, query, key, s, query_side=True, key_side=True):
        L = layers[layer]
        g_in = 1 + rd(L["input_layernorm"])
        u = basis[:, 1]
        g = head // grp
        if query_side:
            L["q"][head * dh:(head + 1) * dh] += s * np.outer(u, unit(query) / g_in)
        if key_side:
            L["k"][g * dh:(g + 1) * dh] += s * np.outer(u, unit(key) / g_in)

    p = PLANT["q"]
    f = p["feature"]
    e_f = sae["W_enc"][:, f]
    plant_ov(p["source"][0], p["source"][1], unit(RNG.standard_normal(d)), e_f, p["strength"])
    plant_qk(p["target"][0], p["target"][1], sae["W_dec"][f], unit(RNG.standard_normal(d)), p["strength"])
    p = PLANT["k"]
    f = p["feature"]
    plant_ov(p["source"][0], p["source"][1], unit(RNG.standard_normal(d)), sae["W_enc"][:, f], p["strength"])
    plant_qk(p["target"][0], p["target"][1], unit(RNG.standard_normal(d)), sae["W_dec"][f], p["strength"])

    t = {"model.embed_tokens.weight": bf16(embed), "model.norm.weight": bf16(final_norm)}
    for i, Li in enumerate(layers):
        pre = f"model.layers.{i}."
        for nm in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                   "post_feedforward_layernorm"):
            t[pre + nm + ".weight"] = bf16(Li[nm])
        t[pre + "self_attn.q_proj.weight"] = bf16(Li["q"])
        t[pre + "self_attn.k_proj.weight"] = bf16(Li["k"])
        t[pre + "self_attn.v_proj.weight"] = bf16(Li["v"])
        t[pre + "self_attn.o_proj.weight"] = bf16(Li["o"])
        t[pre + "mlp.gate_proj.weight"] = bf16(Li["gate"])
        t[pre + "mlp.up_proj.weight"] = bf16(Li["up"])
        t[pre + "mlp.down_proj.weight"] = bf16(Li["down"])
    model = ensure(os.path.join(OUT, "model"))
    write_safetensors(os.path.join(model, "model.safetensors"), t, {"format": "pt"})
    config = {
        "architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2",
        "hidden_size": d, "num_hidden_layers": nl, "num_attention_heads": H, "num_key_value_heads": KV,
        "head_dim": dh, "intermediate_size": C["d_mlp"], "vocab_size": C["vocab"], "rms_norm_eps": 1e-6,
        "rope_theta": C["theta"], "max_position_embeddings": 256, "query_pre_attn_scalar": dh,
        "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "sliding_window": 32,
        "attention_bias": False, "hidden_activation": "gelu_pytorch_tanh", "torch_dtype": "bfloat16",
    }
    with open(os.path.join(model, "config.json"), "w") as fh:
        json.dump(config, fh, indent=2)

    folder = ensure(os.path.join(OUT, "blocks.1.hook_resid_pre"))
    write_safetensors(os.path.join(folder, "sae_weights.safetensors"), {k: f32(v) for k, v in sae.items()})
    cfg = {"d_in": d, "d_sae": n, "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": False,
           "normalize_activations": "none", "reshape_activations": "none", "architecture": "jumprelu",
           "metadata": {"model_name": "tiny-composition", "hook_name": "blocks.1.hook_resid_pre",
                        "hook_head_index": None, "model_class_name": "HookedTransformer", "prepend_bos": True,
                        "context_size": 64, "model_from_pretrained_kwargs": {},
                        "sae_lens_version": "6.18.0"}}
    with open(os.path.join(folder, "cfg.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)
    return t, sae


def check(t, sae):
    """Folded composition scores from the stored values (float64); the plants must come out on top."""
    d, H, KV, dh, nl = C["d_model"], C["n_heads"], C["n_kv"], C["d_head"], C["n_layers"]
    grp = H // KV
    w = lambda name: bf16_to_f32(t[name][1]).astype(np.float64)
    ov, qk = {}, {}
    for l in range(nl):
        pre = f"model.layers.{l}."
        g_in = 1 + w(pre + "input_layernorm.weight")
        g_post = 1 + w(pre + "post_attention_layernorm.weight")
        q, k, v, o = (w(pre + f"self_attn.{x}_proj.weight") for x in "qkvo")
        for h in range(H):
            g = h // grp
            Wq, Wk = g_in[:, None] * q[h * dh:(h + 1) * dh].T, g_in[:, None] * k[g * dh:(g + 1) * dh].T
            Wv, Wo = g_in[:, None] * v[g * dh:(g + 1) * dh].T, o[:, h * dh:(h + 1) * dh].T * g_post[None, :]
            qk[(l, h)], ov[(l, h)] = Wq @ Wk.T, Wv @ Wo
    fro = np.linalg.norm
    scores = []
    for (l1, h1), A in ov.items():
        for (l2, h2) in qk:
            if l2 <= l1:
                continue
            for kind, B in (("q", qk[(l2, h2)]), ("k", qk[(l2, h2)].T), ("v", ov[(l2, h2)])):
                scores.append((fro(A @ B) / (fro(A) * fro(B)), kind, (l1, h1), (l2, h2)))
    scores.sort(key=lambda s: -s[0])
    enc = sae["W_enc"].astype(np.float32).astype(np.float64)
    dec = sae["W_dec"].astype(np.float32).astype(np.float64)
    facts = {}
    for name, p in PLANT.items():
        best = [s for s in scores if s[1] == name][0]
        assert (list(best[2]), list(best[3])) == (p["source"], p["target"]), f"{name} plant: best is {best}"
        A = ov[tuple(p["source"])]
        B = qk[tuple(p["target"])] if name == "q" else qk[tuple(p["target"])].T
        strength = fro(A @ enc, axis=0) * fro(dec @ B, axis=1)
        top = int(np.argmax(strength))
        assert top == p["feature"], f"{name} plant: top feature {top}"
        facts[name] = dict(p, score=round(float(best[0]), 4),
                           rank_overall=1 + [s[1:] for s in scores].index(best[1:]))
    assert facts["q"]["rank_overall"] == 1, facts
    with open(os.path.join(OUT, "planted.json"), "w") as fh:
        json.dump(facts, fh, indent=2)
    return facts, scores[:5]


if __name__ == "__main__":
    tensors, sae = build()
    facts, best = check(tensors, sae)
    print("tiny-composition written; planted paths verified:", json.dumps(facts))
    for s in best:
        print(f"  {s[1].upper()} L{s[2][0]}H{s[2][1]} -> L{s[3][0]}H{s[3][1]}  {s[0]:.4f}")
