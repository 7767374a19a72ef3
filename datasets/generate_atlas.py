#!/usr/bin/python3
"""Generate datasets/tiny-atlas/: a tiny Gemma-2-style model with an SAE on every residual stream, for whole-model atlases.

Run with Debian's python3 (numpy only):  /usr/bin/python3 datasets/generate_atlas.py
Seeded and deterministic; the other fixtures are not touched (this script only writes tiny-atlas/).
It reuses generate.py's writers (safetensors spec writer, BF16 rounding, folder helper) and copies tiny-gemma2's
tokenizer.json (the same 64-id Gemma-style vocabulary).

What is written:
  tiny-atlas/model/                                   config.json (gemma2, layer_types sliding/full alternating as
                                                      Gemma 2: 0 and 2 sliding, 1 and 3 global; soft-caps 50 and 30)
                                                      + one BF16 model.safetensors (HF Gemma 2 names) + tokenizer.json:
                                                      d_model 32, 4 layers, 4 query heads, 2 KV heads, d_head 8,
                                                      vocab 64, RMSNorm gains stored as offsets from 1
  tiny-atlas/saes/layer_{L}/width_48/average_l0_8/    Gemma Scope params.npz (np.savez, STORED; W_enc [32,48], W_dec
                                                      [48,32], b_enc, b_dec, threshold; F32): JumpReLU SAEs on
                                                      resid_post of every layer L = 0..3
  tiny-atlas/labels/layer_{L}/explanations/batch-0.jsonl.gz
                                                      Neuronpedia bulk-export labels of each SAE (modelId
                                                      tiny-atlas-gemma2, source {L}-tinyatlas-res-48); descriptive
                                                      labels for the planted features and a few others, one feature
                                                      per SAE unlabelled
  tiny-atlas/planted.json                             the atlas pattern and the planted pairs below

The atlas reads attention layer L with the SAE on resid_post of L-1 as input and the one on resid_post of L as output:
  saelab atlas --model datasets/tiny-atlas/model --layers 1-3 \\
      --saes 'datasets/tiny-atlas/saes/layer_{L-1}/width_48/average_l0_8' \\
      --labels 'datasets/tiny-atlas/labels/layer_{L-1}' --format csv --top 10 --out target/tiny-atlas

Planted (kernel-ext/docs/math.md §2-3): in each layer 1..3 one head carries a strong QK pair (query feature i attends
to key feature j, both of the input SAE) and another head a strong OV pair (value feature i of the input SAE writes
output feature j of the output SAE), on different heads in every layer. Folds as the tables make them: input side
d ⊙ (1 + input_layernorm), output side e ⊙ (1 + post_attention_layernorm). The script recomputes every head's full
QK and OV tables in float64 from the stored (BF16-rounded, F32) values and fails unless each planted pair is the
top |value| of its head's table and its head is the strongest of its layer for that circuit.
"""
import gzip
import json
import os
import shutil

import numpy as np

from generate import bf16, bf16_round, bf16_to_f32, ensure, write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "tiny-atlas")
RNG = np.random.default_rng(20260420)

C = dict(d_model=32, n_heads=4, n_kv=2, d_head=8, n_layers=4, vocab=64, d_mlp=64, theta=10000.0, n_sae=48,
         window=32)
SAE_DIR = "saes/layer_{L}/width_48/average_l0_8"
PATTERN = "datasets/tiny-atlas/saes/layer_{L-1}/width_48/average_l0_8"
LABELS_PATTERN = "datasets/tiny-atlas/labels/layer_{L-1}"
MODEL_ID = "tiny-atlas-gemma2"
# (layer, head, circuit, row feature, col feature, strength): QK rows are query features and columns key features
# (both of the SAE on resid_post of layer-1); OV rows are value features (that SAE) and columns output features (the
# SAE on resid_post of layer). Different heads carry QK and OV in every layer, and they move from layer to layer.
PLANTS = [
    (1, 1, "qk", 5, 12, 3.0),
    (1, 2, "ov", 20, 33, 3.0),
    (2, 3, "qk", 7, 41, 3.0),
    (2, 0, "ov", 26, 9, 3.0),
    (3, 0, "qk", 30, 17, 3.0),
    (3, 3, "ov", 44, 2, 3.0),
]
# A few descriptive labels for features that carry nothing planted: (sae layer, feature) -> description
EXTRA_LABELS = {
    (0, 3): "the word 'cat'", (0, 40): "end of sentence punctuation", (1, 6): "animals",
    (1, 27): "prepositions such as 'on' and 'in'", (2, 11): "the start of a sentence",
    (2, 38): "plural nouns", (3, 14): "verbs in the past tense", (3, 45): "household objects such as 'mat'",
}
UNLABELLED = {0: 47, 1: 0, 2: 23, 3: 31}     # one feature per SAE has no explanation, as in real exports


def rd(a):
    """The value the stored BF16 tensor holds, as float64."""
    return bf16_to_f32(bf16_round(a)).astype(np.float64)


def make_sae():
    d, n = C["d_model"], C["n_sae"]
    w_dec = RNG.standard_normal((n, d))
    w_dec /= np.linalg.norm(w_dec, axis=1, keepdims=True)
    w_dec *= np.exp(0.4 * RNG.standard_normal((n, 1)))                 # log-normal norms, as real decoders
    sae = dict(W_dec=w_dec, b_dec=0.1 * RNG.standard_normal(d))
    sae["W_enc"] = w_dec.T / (np.linalg.norm(w_dec, axis=1) ** 2) * 0.8 + 0.05 * RNG.standard_normal((d, n))
    sae["b_enc"] = -0.1 * np.abs(RNG.standard_normal(n))
    sae["threshold"] = 0.05 + 0.05 * np.abs(RNG.standard_normal(n))
    return sae


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
    saes = [make_sae() for _ in range(nl)]           # saes[L]: resid_post of layer L
    basis = np.linalg.qr(RNG.standard_normal((dh, dh)))[0]

    for layer, head, circuit, row, col, s in PLANTS:
        L = layers[layer]
        g_in, g_post = 1 + rd(L["input_layernorm"]), 1 + rd(L["post_attention_layernorm"])
        sae_in, sae_out = saes[layer - 1], saes[layer]
        g = head // grp

        def boost_dec(i):
            """A planted input feature gets decoder norm 3, so the plant does not leak into bigger features."""
            sae_in["W_dec"][i] *= 3.0 / np.linalg.norm(sae_in["W_dec"][i])
            return sae_in["W_dec"][i] * g_in                                   # its folded direction

        if circuit == "qk":
            dq, dk = boost_dec(row), boost_dec(col)
            u = basis[:, 0]
            # q_row gains s·u and k_col gains s·u: QK[row, col] gains s²
            L["q"][head * dh:(head + 1) * dh] += s * np.outer(u, dq / (dq @ dq))
            L["k"][g * dh:(g + 1) * dh] += s * np.outer(u, dk / (dk @ dk))
        else:
            dv = boost_dec(row)
            sae_out["W_enc"][:, col] *= 3.0 / np.linalg.norm(sae_out["W_enc"][:, col])
            e = sae_out["W_enc"][:, col] * g_post                              # fold_out(e_col)
            u = basis[:, 1]
            # v_row gains s·u, and p_col = fold_out(e_col)·W_O^h gains s·u: OV[row, col] gains s²
            L["v"][g * dh:(g + 1) * dh] += s * np.outer(u, dv / (dv @ dv))
            L["o"][:, head * dh:(head + 1) * dh] += s * np.outer(e / (e @ e), u)

    t = {"model.embed_tokens.weight": bf16(embed), "model.norm.weight": bf16(final_norm)}
    for i, Li in enumerate(layers):
        pre = f"model.layers.{i}."
        for nm in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                   "post_feedforward_layernorm"):
            t[pre + nm + ".weight"] = bf16(Li[nm])
        for x in "qkvo":
            t[pre + f"self_attn.{x}_proj.weight"] = bf16(Li[x])
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
        "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "sliding_window": C["window"],
        "layer_types": ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(nl)],
        "attention_bias": False, "hidden_activation": "gelu_pytorch_tanh", "torch_dtype": "bfloat16",
        "pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 2,
    }
    with open(os.path.join(model, "config.json"), "w") as fh:
        json.dump(config, fh, indent=2)
    shutil.copyfile(os.path.join(HERE, "tiny-gemma2", "tokenizer.json"), os.path.join(model, "tokenizer.json"))

    for l, sae in enumerate(saes):
        folder = ensure(os.path.join(OUT, SAE_DIR.format(L=l)))
        np.savez(os.path.join(folder, "params.npz"), **{k: v.astype(np.float32) for k, v in sae.items()})
    return t, saes


def tables(t, saes):
    """Every head's full folded QK and OV tables of layers 1..3, float64 from the stored values."""
    H, KV, dh = C["n_heads"], C["n_kv"], C["d_head"]
    grp = H // KV
    w = lambda name: bf16_to_f32(t[name][1]).astype(np.float64)
    f64 = lambda a: a.astype(np.float32).astype(np.float64)
    out = {}
    for l in range(1, C["n_layers"]):
        pre = f"model.layers.{l}."
        g_in = 1 + w(pre + "input_layernorm.weight")
        g_post = 1 + w(pre + "post_attention_layernorm.weight")
        D = f64(saes[l - 1]["W_dec"]) * g_in                     # fold_in of the input SAE's decoder rows
        E = f64(saes[l]["W_enc"]).T * g_post                     # fold_out of the output SAE's encoder columns
        q, k, v, o = (w(pre + f"self_attn.{x}_proj.weight") for x in "qkvo")
        Q, K, V, P = D @ q.T, D @ k.T, D @ v.T, E @ o
        for h in range(H):
            g = h // grp
            hb, gb = slice(h * dh, (h + 1) * dh), slice(g * dh, (g + 1) * dh)
            out[(l, h, "qk")] = Q[:, hb] @ K[:, gb].T             # [query, key]
            out[(l, h, "ov")] = V[:, gb] @ P[:, hb].T             # [value, output]
    return out


def check(t, saes):
    tab = tables(t, saes)
    facts = []
    for layer, head, circuit, row, col, s in PLANTS:
        m = tab[(layer, head, circuit)]
        a = np.abs(m)
        rank = int((a > a[row, col]).sum()) + 1
        assert rank == 1, f"L{layer}H{head} {circuit}: planted {row} -> {col} ranks {rank}"
        runner_up = float(np.sort(a.ravel())[-2])
        best = {h: float(np.abs(tab[(layer, h, circuit)]).max()) for h in range(C["n_heads"])}
        strongest = max(best, key=best.get)
        assert strongest == head, f"L{layer} {circuit}: head {strongest} is stronger than the planted head {head}"
        rank_in_layer = 1 + sum(int((np.abs(tab[(layer, h, circuit)]) > a[row, col]).sum())
                                for h in range(C["n_heads"]))
        facts.append(dict(layer=layer, head=head, kv_head=head // (C["n_heads"] // C["n_kv"]), circuit=circuit,
                          row_feature=row, col_feature=col,
                          row_role="query" if circuit == "qk" else "value",
                          col_role="key" if circuit == "qk" else "output",
                          value=round(float(m[row, col]), 4), rank_in_head=rank, rank_in_layer=rank_in_layer,
                          runner_up_in_head=round(runner_up, 4),
                          strongest_other_head=round(max(v for h, v in best.items() if h != head), 4)))
    return facts


def labels(facts):
    descr = {}
    for f in facts:
        l, h, c = f["layer"], f["head"], f["circuit"]
        if c == "qk":
            descr[(l - 1, f["row_feature"])] = f"planted query of L{l}H{h} (attends to key feature {f['col_feature']})"
            descr[(l - 1, f["col_feature"])] = f"planted key of L{l}H{h} (attended by query feature {f['row_feature']})"
        else:
            descr[(l - 1, f["row_feature"])] = f"planted value of L{l}H{h} (writes output feature {f['col_feature']})"
            descr[(l, f["col_feature"])] = f"planted output of L{l}H{h} (written by value feature {f['row_feature']})"
    descr.update(EXTRA_LABELS)
    for l in range(C["n_layers"]):
        source = f"{l}-tinyatlas-res-{C['n_sae']}"
        rows = []
        for i in range(C["n_sae"]):
            if i == UNLABELLED[l]:
                continue
            rows.append({"id": f"tinyatlas-{l}-{i}", "modelId": MODEL_ID, "layer": source, "index": str(i),
                         "description": descr.get((l, i), f"tiny atlas layer {l} feature {i}"),
                         "typeName": "oai_token-act-pair", "explanationModelName": "gpt-4o-mini",
                         "createdAt": "2025-06-01T00:00:00.000Z"})
        folder = ensure(os.path.join(OUT, "labels", f"layer_{l}", "explanations"))
        with gzip.GzipFile(os.path.join(folder, "batch-0.jsonl.gz"), "wb", mtime=0) as fh:
            fh.write(("\n".join(json.dumps(x) for x in rows) + "\n").encode())


if __name__ == "__main__":
    tensors, saes = build()
    facts = check(tensors, saes)
    labels(facts)
    with open(os.path.join(OUT, "planted.json"), "w") as fh:
        json.dump({"model": "datasets/tiny-atlas/model", "layers": "1-3", "saes": PATTERN, "labels": LABELS_PATTERN,
                   "planted": facts}, fh, indent=2)
    print("tiny-atlas written; planted pairs verified (rank 1 in their head, strongest head of their layer):")
    for f in facts:
        print(f"  L{f['layer']}H{f['head']} {f['circuit']}: {f['row_feature']} -> {f['col_feature']}"
              f"  value {f['value']}, runner-up {f['runner_up_in_head']}, other heads ≤ {f['strongest_other_head']}")
