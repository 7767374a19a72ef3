#!/usr/bin/python3
"""Dictionary fixtures of issue 13 (Llama Scope, circuit-tracer transcoder sets), numpy only, seeded.

Run: /usr/bin/python3 datasets/generate_dicts.py   (then datasets/reference/dicts2026.py)

Writes, for datasets/tiny-llama3 (d_model 48, 2 layers):

- tiny-llama-scope/L0R-8x/hyperparams.json + checkpoints/final.safetensors: a Llama Scope SAE on
  blocks.0.hook_resid_post (= the input of layer 1), 8 x 48 = 384 features, in the release's layout:
  encoder.weight [d_sae, d_model], encoder.bias [d_sae], decoder.weight [d_model, d_sae], decoder.bias [d_model]
  (BF16, as released), trained (here: drawn) on inputs normalised dataset-wise, x * sqrt(d_model) / norm_in.
  SAELens folds that factor s = sqrt(d_model) / dataset_average_activation_norm.in into the weights
  (W_enc = encoder.weightᵀ · s, W_dec = decoder.weightᵀ / s, b_dec = decoder.bias / s). This script asserts that
  the folded SAE applied to raw activations gives exactly the normalised SAE's pre-activations and, after
  undoing the normalisation, its reconstruction; and that the folded decoder rows are at the stream's scale
  (median norm ≈ 1 while the stored columns are ≈ s).
- tiny-plt/: a circuit-tracer per-layer transcoder set: config.yaml (model_kind transcoder_set) and
  layer_{0,1}.safetensors with W_enc [d_tc, d], W_dec [d_tc, d], b_enc [d_tc], b_dec [d],
  activation_function.threshold [d_tc] (F32; d_tc = 64 and 80).
- tiny-clt/: a circuit-tracer cross-layer transcoder: config.yaml (model_kind cross_layer_transcoder),
  W_enc_{i}.safetensors (W_enc_i [d_tc, d], b_enc_i [d_tc], b_dec_i [d], threshold_i [d_tc]) and
  W_dec_{i}.safetensors (W_dec_i [d_tc, n_layers - i, d]) for i = 0, 1, d_tc = 32 (BF16 decoders).

generate.py and generate_2026.py and their outputs are not touched.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate import bf16, bf16_round, bf16_to_f32, ensure, f32, write_safetensors  # noqa: E402

D = 48
N_LAYERS = 2


def rd(a):
    """The float64 value of a BF16-stored array."""
    return bf16_to_f32(bf16_round(a)).astype(np.float64)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def llama_scope(rng):
    d_sae = 8 * D
    norm_in = 0.75                                   # exact in BF16; real releases: 1.09 (L0R) to ~30 (L24R)
    s = np.sqrt(D) / norm_in
    # Natural (stream-scale) directions, heavy-tailed norms around 1; stored at the training scale (× s).
    nat = rng.standard_normal((d_sae, D))
    nat /= np.linalg.norm(nat, axis=1, keepdims=True)
    nat *= np.exp(0.5 * rng.standard_normal((d_sae, 1)))
    dec_w = (nat * s).T                              # decoder.weight [d_model, d_sae]
    enc_w = 0.8 * nat / s + 0.02 * rng.standard_normal((d_sae, D)) / s   # encoder.weight [d_sae, d_model]
    enc_b = -0.05 * np.abs(rng.standard_normal(d_sae))
    dec_b = 0.1 * s * rng.standard_normal(D)         # decoder.bias, training scale
    tensors = {"encoder.weight": bf16(enc_w), "encoder.bias": bf16(enc_b),
               "decoder.weight": bf16(dec_w), "decoder.bias": bf16(dec_b)}
    folder = ensure(os.path.join(HERE, "tiny-llama-scope", "L0R-8x"))
    write_safetensors(os.path.join(ensure(os.path.join(folder, "checkpoints")), "final.safetensors"), tensors)
    hp = {
        "d_model": D, "d_sae": d_sae, "expansion_factor": 8,
        "hook_point_in": "blocks.0.hook_resid_post", "hook_point_out": "blocks.0.hook_resid_post",
        "act_fn": "jumprelu", "jump_relu_threshold": 0.125, "top_k": 8,
        "norm_activation": "dataset-wise", "dataset_average_activation_norm": {"in": norm_in, "out": norm_in},
        "sparsity_include_decoder_norm": True, "use_decoder_bias": True,
        "apply_decoder_bias_to_pre_encoder": False, "decoder_exactly_fixed_norm": False,
        "model_name": "tiny-llama3",
    }
    write_json(os.path.join(folder, "hyperparams.json"), hp)

    # The scaling, asserted from the stored (BF16-rounded) values in float64.
    E, Db = rd(enc_w), rd(dec_w)
    be, bd = rd(enc_b), rd(dec_b)
    W_enc, W_dec, b_dec = E.T * s, Db.T / s, bd / s           # SAELens's fold
    x = rng.standard_normal((16, D)) * 3.0                     # raw activations
    pre_norm = (x * s) @ E.T + be                              # OpenMOSS: normalise, encode
    pre_fold = x @ W_enc + be
    assert np.allclose(pre_norm, pre_fold, rtol=1e-12, atol=1e-12)
    a = np.maximum(pre_norm, 0)
    rec_norm = (a @ Db.T + bd) / s                             # decode, undo the normalisation
    rec_fold = a @ W_dec + b_dec
    assert np.allclose(rec_norm, rec_fold, rtol=1e-12, atol=1e-12)
    stored_norms = np.linalg.norm(Db, axis=0)
    folded_norms = np.linalg.norm(W_dec, axis=1)
    assert 0.8 < np.median(folded_norms) < 1.25 and np.median(stored_norms) > 0.8 * s, (
        np.median(folded_norms), np.median(stored_norms))
    return {"folder": "tiny-llama-scope/L0R-8x", "scale": s, "d_sae": d_sae,
            "median_stored_decoder_norm": float(np.median(stored_norms)),
            "median_folded_decoder_norm": float(np.median(folded_norms))}


def plt_set(rng):
    folder = ensure(os.path.join(HERE, "tiny-plt"))
    widths = [64, 80]
    for i, n in enumerate(widths):
        dec = rng.standard_normal((n, D)) * np.exp(0.4 * rng.standard_normal((n, 1))) / np.sqrt(D)
        write_safetensors(os.path.join(folder, f"layer_{i}.safetensors"), {
            "W_enc": f32(0.7 * dec + 0.05 * rng.standard_normal((n, D))),
            "W_dec": f32(dec),
            "b_enc": f32(-0.1 * np.abs(rng.standard_normal(n))),
            "b_dec": f32(0.05 * rng.standard_normal(D)),
            "activation_function.threshold": f32(0.02 + 0.02 * np.abs(rng.standard_normal(n))),
        })
    with open(os.path.join(folder, "config.yaml"), "w") as f:
        f.write("model_name: tiny-llama3\n"
                "model_kind: transcoder_set\n"
                "feature_input_hook: mlp.hook_in\n"
                "feature_output_hook: hook_mlp_out\n")
    return {"folder": "tiny-plt", "widths": widths}


def clt(rng):
    folder = ensure(os.path.join(HERE, "tiny-clt"))
    n = 32
    for i in range(N_LAYERS):
        write_safetensors(os.path.join(folder, f"W_enc_{i}.safetensors"), {
            f"W_enc_{i}": f32(rng.standard_normal((n, D)) / np.sqrt(D)),
            f"b_enc_{i}": f32(-0.1 * np.abs(rng.standard_normal(n))),
            f"b_dec_{i}": f32(0.05 * rng.standard_normal(D)),
            f"threshold_{i}": f32(0.02 + 0.02 * np.abs(rng.standard_normal(n))),
        })
        # Each source layer's slices differ in scale, so a wrong slice index is visible in the values.
        dec = np.stack([rng.standard_normal((n, D)) * (1 + 2 * (i + j)) for j in range(N_LAYERS - i)], axis=1)
        write_safetensors(os.path.join(folder, f"W_dec_{i}.safetensors"), {f"W_dec_{i}": bf16(dec)})
    with open(os.path.join(folder, "config.yaml"), "w") as f:
        f.write("model_name: tiny-llama3\n"
                "model_kind: cross_layer_transcoder\n"
                "feature_input_hook: hook_resid_mid\n"
                "feature_output_hook: hook_mlp_out\n")
    return {"folder": "tiny-clt", "d_transcoder": n, "n_layers": N_LAYERS}


if __name__ == "__main__":
    rng = np.random.default_rng(2613)
    facts = {"llama_scope": llama_scope(rng), "plt": plt_set(rng), "clt": clt(rng)}
    print(json.dumps(facts, indent=1))
