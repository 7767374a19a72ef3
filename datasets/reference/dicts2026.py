#!/usr/bin/python3
"""Independent float64 numpy reference for the dictionary fixtures of issue 13 (generate_dicts.py).

Run: /usr/bin/python3 datasets/reference/dicts2026.py   (writes datasets/reference/dicts2026.json)

Llama Scope (tiny-llama-scope/L0R-8x, the input SAE of tiny-llama3 layer 1). The release stores
encoder.weight [d_sae, d_model], encoder.bias [d_sae], decoder.weight [d_model, d_sae], decoder.bias [d_model]
in checkpoints/final.safetensors, and hyperparams.json gives d_model and dataset_average_activation_norm.in: the SAE
was trained on x · s with s = sqrt(d_model) / norm_in. SAELens (sae_lens/loading/pretrained_sae_loaders.py,
llama_scope_sae_huggingface_loader; sae_lens/saes/sae.py, fold_activation_norm_scaling_factor, applied by
from_pretrained with the registry's norm_scaling_factor = sqrt(d_model) / norm_in) uses, on raw activations,

    W_enc = encoder.weightᵀ · s      W_dec = decoder.weightᵀ / s      b_dec = decoder.bias / s      b_enc = encoder.bias

This script reads hyperparams.json and the safetensors file with its own code (models2026.py's reader), folds as
above in float64, and computes the QK tables of tiny-llama3 layer 1 with D = W_dec as the query and key dictionary:
q_i = (d_i ⊙ w_in) W_Q, k_j = (d_j ⊙ w_in) W_K (Llama RMSNorm gain w, no q/k norm), QK_h[i,j] = q_i^h · k_j^g(h)
(models2026.py's maths). Output: the scale, a few folded rows, and the top-12 entries [row, column, value] per head
(by |value|, ties by row then column); head 0 is the one the issue names.
"""
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from models2026 import Model, Tensors, top  # noqa: E402


def llama_scope(folder):
    with open(os.path.join(DATA, folder, "hyperparams.json")) as f:
        hp = json.load(f)
    t = Tensors(os.path.join(DATA, folder, "checkpoints", "final.safetensors"))
    s = math.sqrt(hp["d_model"]) / hp["dataset_average_activation_norm"]["in"]
    enc, dec = t["encoder.weight"], t["decoder.weight"]
    assert enc.shape == (hp["d_sae"], hp["d_model"]) and dec.shape == (hp["d_model"], hp["d_sae"])
    sae = {"W_enc": enc.T * s, "W_dec": dec.T / s, "b_enc": t["encoder.bias"], "b_dec": t["decoder.bias"] / s}
    return hp, s, sae, t.opened


if __name__ == "__main__":
    folder = "tiny-llama-scope/L0R-8x"
    hp, s, sae, opened = llama_scope(folder)
    m = Model("tiny-llama3")
    layer = 1
    hs = m.heads(layer, sae["W_dec"], sae["W_dec"])
    qk = [top(hs[h]["proxy"][0] @ hs[h]["proxy"][1].T) for h in range(m.H)]
    out = {
        "_about": "See the docstring of dicts2026.py.",
        "llama_scope": {
            "folder": folder, "model": "tiny-llama3", "layer": layer, "scale": s,
            "d_model": hp["d_model"], "d_sae": hp["d_sae"], "hook": hp["hook_point_in"],
            "w_dec_rows": {str(i): sae["W_dec"][i].tolist() for i in (0, 1, 383)},
            "w_enc_cols": {str(j): sae["W_enc"][:, j].tolist() for j in (0, 7)},
            "b_dec": sae["b_dec"].tolist(), "b_enc_first": sae["b_enc"][:4].tolist(),
            "qk": qk,
            "files_read": m.w.opened + opened,
        },
    }
    with open(os.path.join(HERE, "dicts2026.json"), "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", os.path.join(HERE, "dicts2026.json"), "scale", s, "head 0 top", qk[0][0])
