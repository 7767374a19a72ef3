"""Brute-force baseline for `saelab bench tables`: J Bostock's method in float32 numpy.

For every head: the full n x n QK and OV matrices (one GEMM each), then the top-k by |value| with argpartition and a
final sort. Same shapes as the Java run; random data (timing only). Prints one JSON line with the seconds of each
round (the data are made once, outside the timer).
usage: brute_force.py n_features d_model n_heads n_kv d_head top [rounds]
"""
import json
import sys
import time

import numpy as np

n, d, H, KV, dh, top = (int(x) for x in sys.argv[1:7])
rounds = int(sys.argv[7]) if len(sys.argv) > 7 else 1
rng = np.random.default_rng(0)
D = rng.standard_normal((n, d), dtype=np.float32)
E = rng.standard_normal((n, d), dtype=np.float32)
Wq = rng.standard_normal((d, H * dh), dtype=np.float32) * 0.02
Wk = rng.standard_normal((d, KV * dh), dtype=np.float32) * 0.02
Wv = rng.standard_normal((d, KV * dh), dtype=np.float32) * 0.02
Wo = rng.standard_normal((H * dh, d), dtype=np.float32) * 0.02
g = rng.standard_normal(d, dtype=np.float32)


def brute_force():
    t0 = time.perf_counter()
    Dn = D * (1 + g)
    Q, K, V = Dn @ Wq, Dn @ Wk, Dn @ Wv
    P = (E * (1 + g)) @ Wo.T
    checksum = 0.0
    for h in range(H):
        gk = h // (H // KV)
        for left, right in ((Q[:, h * dh:(h + 1) * dh], K[:, gk * dh:(gk + 1) * dh]),
                            (V[:, gk * dh:(gk + 1) * dh], P[:, h * dh:(h + 1) * dh])):
            m = np.ascontiguousarray(left) @ np.ascontiguousarray(right).T
            flat = np.abs(m).ravel()
            idx = np.argpartition(flat, -top)[-top:]
            idx = idx[np.argsort(-flat[idx])]
            checksum += float(m.ravel()[idx[0]])
            del m, flat
    return time.perf_counter() - t0, checksum


results = [brute_force() for _ in range(rounds)]
print(json.dumps({"seconds": results[0][0], "rounds": [r[0] for r in results], "checksum": results[0][1]}))
