#!/usr/bin/python3
"""Writes activation files as Python users would save a TransformerLens cache, for SAE Lab's activation import
(issue 14; forward/ActivationFile.java).

The values are tiny-gpt2's float64 reference activations (datasets/reference/forward.json, made by
reference/forward.py) on its token ids [2, 17, 5, 33, 9, 41, 12, 60], cast to float32 and given TransformerLens's
leading batch dimension of 1 ([1, T, d_model], [1, n_heads, T, T]; masked scores -inf):
- tiny-activations/gpt2-cache.safetensors: what `safetensors.numpy.save_file(cache, file, metadata)` writes (written
  here by hand: an 8-byte little-endian header length, the JSON header, the C-order data), with metadata
  token_ids "[2,17,5,33,9,41,12,60]", plus a tensor TransformerLens has that SAE Lab does not read (hook_embed).
- tiny-activations/gpt2-cache.npz: `np.savez` of the same arrays (no token ids: npz has no metadata).
- tiny-activations/batch-of-2.npz: blocks.0.hook_resid_post with a batch of 2 prompts (an error to import).
Run: /usr/bin/python3 datasets/generate_activations.py
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "tiny-activations")


def cache():
    with open(os.path.join(HERE, "reference", "forward.json")) as f:
        ref = json.load(f)
    g = ref["gpt2"]
    out = {}
    for layer in g["layers"]:
        l = layer["layer"]
        for k in ("resid_pre", "resid_post"):
            out["blocks.%d.hook_%s" % (l, k)] = np.array(layer[k], dtype=np.float32)[None]
        for k in ("attn_scores", "pattern"):
            a = np.array([[[-np.inf if v is None else v for v in row] for row in h] for h in layer[k]],
                         dtype=np.float32)
            out["blocks.%d.attn.hook_%s" % (l, k)] = a[None]
    out["ln_final.hook_normalized"] = np.array(g["final"], dtype=np.float32)[None]
    out["hook_embed"] = np.zeros((1, len(ref["token_ids"]), 32), dtype=np.float32)
    return ref["token_ids"], out


def save_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    for name, a in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for a in tensors.values():
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())


def main():
    os.makedirs(OUT, exist_ok=True)
    ids, c = cache()
    save_safetensors(os.path.join(OUT, "gpt2-cache.safetensors"), c,
                     {"token_ids": "[" + ",".join(map(str, ids)) + "]", "model": "tiny-gpt2"})
    np.savez(os.path.join(OUT, "gpt2-cache.npz"), **c)
    r = c["blocks.0.hook_resid_post"]
    np.savez(os.path.join(OUT, "batch-of-2.npz"), **{"blocks.0.hook_resid_post": np.concatenate([r, r])})
    for f in sorted(os.listdir(OUT)):
        print("wrote", os.path.join(OUT, f), os.path.getsize(os.path.join(OUT, f)), "bytes")


if __name__ == "__main__":
    main()
