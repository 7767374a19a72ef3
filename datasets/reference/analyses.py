#!/usr/bin/python3
"""Independent numpy reference for SAE Lab's analyses beyond the per-head tables (issue 5) on the shipped datasets.

Run: /usr/bin/python3 datasets/reference/analyses.py   (writes datasets/reference/analyses.json)

Everything is computed densely in float64 from the stored files (read by tables.py's own readers), straight from
kernel-ext/docs/math.md (§8–12): RoPE at a distance with an explicit rotation matrix, the decoder-bias positional profile, each
head's QK/OV matrix and numpy's SVD of it (not the QR route SAE Lab takes), feature loadings, per-direction splits,
tables summed over heads with per-head breakdowns, cosine-normalised tables, drill-down partners, feature norms and
the QK-OV scatter. The Java tests compare against the committed JSON.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tables import DATA, read_safetensors, read_sharded, top  # noqa: E402

TOP = 12


def rope_matrix(delta, dh, theta, pairing):
    """R(delta) on a column vector; rotate_half pairs j with j + dh/2, interleaved 2j with 2j+1."""
    half = dh // 2
    R = np.zeros((dh, dh))
    for j in range(half):
        a, b = (j, j + half) if pairing == "rotate-half" else (2 * j, 2 * j + 1)
        t = delta * theta ** (-2.0 * j / dh)
        R[a, a], R[a, b], R[b, a], R[b, b] = np.cos(t), -np.sin(t), np.sin(t), np.cos(t)
    return R


def log_deltas(ctx, count=50):
    return sorted(set([0] + [int(x) for x in np.rint(np.exp(np.linspace(0, np.log(ctx), count)))]))


def svd_fixed(W, r):
    """numpy SVD, first r directions, signs fixed: the largest-|.| entry of each u_k positive."""
    U, S, Vt = np.linalg.svd(W)
    U, S, V = U[:, :r], S[:r], Vt[:r].T
    for k in range(r):
        if U[np.argmax(np.abs(U[:, k])), k] < 0:
            U[:, k] *= -1
            V[:, k] *= -1
    return U, S, V


def top_loadings(X, w, n=5):
    l = X @ w
    order = np.lexsort((np.arange(len(l)), -np.abs(l)))[:n]
    return [[int(i), float(l[i])] for i in order]


def split(x, y, U, S, V):
    c = S * (x @ U) * (y @ V)
    order = np.lexsort((np.arange(len(c)), -np.abs(c)))
    a = np.abs(c[order])
    need = int(np.searchsorted(np.cumsum(a), 0.9 * a.sum() - 1e-12 * a.sum()) + 1)
    return {"total": float(c.sum()), "terms": [[int(k), float(c[k])] for k in order[:5]], "directions_90": need}


def spread(parts, share=0.8):
    a = np.sort(np.abs(parts))[::-1]
    return int(np.searchsorted(np.cumsum(a), share * a.sum() - 1e-12 * a.sum()) + 1)


def unit(M):
    n = np.linalg.norm(M, axis=1, keepdims=True)
    return np.divide(M, n, out=np.zeros_like(M), where=n > 0)


def layer_sum(lefts, rights, k, cosine=False, per_head_k=5):
    """Top pairs of sum_h L_h R_h^T with the breakdown; 'weak' = below every head's own top-per_head_k threshold."""
    L, R = np.hstack(lefts), np.hstack(rights)
    Lc, Rc = (unit(L), unit(R)) if cosine else (L, R)
    total = Lc @ Rc.T
    H, dh = len(lefts), lefts[0].shape[1]
    heads = [(unit(lefts[h]) @ unit(rights[h]).T) if cosine else lefts[h] @ rights[h].T for h in range(H)]
    thr = [np.sort(np.abs(m).ravel())[::-1][per_head_k - 1] for m in heads]
    rows = []
    for i, j, v in top(total, k):
        parts = [float(Lc[i, h * dh:(h + 1) * dh] @ Rc[j, h * dh:(h + 1) * dh]) for h in range(H)]
        weak = all(abs(heads[h][i, j]) < thr[h] for h in range(H))
        rows.append({"row": i, "col": j, "value": v, "per_head": parts, "spread": spread(parts), "weak": weak})
    return rows


def partners(scores, n=5):
    order = np.lexsort((np.arange(len(scores)), -np.abs(scores)))[:n]
    return [[int(i), float(scores[i])] for i in order]


def gemma():
    w = read_sharded(os.path.join(DATA, "tiny-gemma2"))
    cfg = json.load(open(os.path.join(DATA, "tiny-gemma2", "config.json")))
    H, KV, dh, theta = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["rope_theta"]
    grp = H // KV
    sin = np.load(os.path.join(DATA, "tiny-gemma-scope/layer_0/width_128/average_l0_12/params.npz"))
    sout = np.load(os.path.join(DATA, "tiny-gemma-scope/layer_1/width_96/average_l0_9/params.npz"))
    p = "model.layers.1."
    g_in = 1 + w[p + "input_layernorm.weight"]
    g_post = 1 + w[p + "post_attention_layernorm.weight"]
    Dr = sin["W_dec"].astype(np.float64)
    Er = sout["W_enc"].astype(np.float64).T
    D, E = Dr * g_in, Er * g_post
    Wq, Wk = w[p + "self_attn.q_proj.weight"], w[p + "self_attn.k_proj.weight"]
    Wv, Wo = w[p + "self_attn.v_proj.weight"], w[p + "self_attn.o_proj.weight"]
    Q, K, V, P = D @ Wq.T, D @ Wk.T, D @ Wv.T, E @ Wo
    qh = lambda h: Q[:, h * dh:(h + 1) * dh]
    kg = lambda h: K[:, (h // grp) * dh:(h // grp + 1) * dh]
    vg = lambda h: V[:, (h // grp) * dh:(h // grp + 1) * dh]
    ph = lambda h: P[:, h * dh:(h + 1) * dh]
    res = {}
    # RoPE at a distance: rows of Q rotated by R(delta)
    res["rope_tables"] = {}
    for pairing in ("rotate-half", "interleaved"):
        R1 = rope_matrix(1, dh, theta, pairing)
        res["rope_tables"][pairing] = [top((qh(h) @ R1.T) @ kg(h).T) for h in range(H)]
    # positional profiles: b_dec with itself, and the pair 17:42
    deltas = log_deltas(cfg["max_position_embeddings"])
    res["profile_deltas"] = deltas

    def profile(x, y, pairing):
        q, k = (x * g_in) @ Wq.T, (y * g_in) @ Wk.T
        return [[float((rope_matrix(d, dh, theta, pairing) @ q[h * dh:(h + 1) * dh]) @ k[(h // grp) * dh:
                                                                                     (h // grp + 1) * dh])
                 for d in deltas] for h in range(H)]
    b = sin["b_dec"].astype(np.float64)
    res["profile_bdec"] = profile(b, b, "rotate-half")
    res["profile_bdec_interleaved"] = profile(b, b, "interleaved")
    res["profile_pair_17_42"] = profile(Dr[17], Dr[42], "rotate-half")
    # head SVD (folded bilinear forms), spectra, loadings, splits
    res["svd_qk"], res["svd_ov"] = [], []
    for h in range(H):
        g = h // grp
        A = g_in[:, None] * Wq[h * dh:(h + 1) * dh].T
        B = g_in[:, None] * Wk[g * dh:(g + 1) * dh].T
        U, S, Vv = svd_fixed(A @ B.T, dh)
        ent = {"sigma": S.tolist()}
        if h == 1:
            ent["loadings_query_k0"] = top_loadings(Dr, U[:, 0])
            ent["loadings_key_k1"] = top_loadings(Dr, Vv[:, 1])
            ent["split_17_42"] = split(Dr[17], Dr[42], U, S, Vv)
        res["svd_qk"].append(ent)
        A = g_in[:, None] * Wv[g * dh:(g + 1) * dh].T
        B = g_post[:, None] * Wo[:, h * dh:(h + 1) * dh]
        U, S, Vv = svd_fixed(A @ B.T, dh)
        ent = {"sigma": S.tolist()}
        if h == 2:
            ent["loadings_value_k0"] = top_loadings(Dr, U[:, 0])
            ent["loadings_output_k0"] = top_loadings(Er, Vv[:, 0])
            ent["split_5_63"] = split(Dr[5], Er[63], U, S, Vv)
        res["svd_ov"].append(ent)
    # layer-wide sums
    res["sum_qk"] = layer_sum([qh(h) for h in range(H)], [kg(h) for h in range(H)], TOP)
    res["sum_ov"] = layer_sum([vg(h) for h in range(H)], [ph(h) for h in range(H)], TOP)
    res["sum_qk_cosine"] = layer_sum([qh(h) for h in range(H)], [kg(h) for h in range(H)], TOP, cosine=True)
    # cosine tables
    res["cosine_qk"] = [top(unit(qh(h)) @ unit(kg(h)).T) for h in range(H)]
    res["cosine_ov"] = [top(unit(vg(h)) @ unit(ph(h)).T) for h in range(H)]
    # drill-down
    res["partners"] = {
        "query_17_h1": partners(kg(1) @ qh(1)[17]),
        "key_42_h1": partners(qh(1) @ kg(1)[42]),
        "value_5_h2": partners(ph(2) @ vg(2)[5]),
        "output_63_h2": partners(vg(2) @ ph(2)[63]),
    }
    res["norms_17"] = [[float(np.linalg.norm(f(h)[17])) for h in range(H)] for f in (qh, kg, vg, ph)]
    # QK-OV scatter
    res["scatter"] = []
    for h in range(H):
        x = kg(h) @ qh(h).mean(axis=0)
        y = np.abs(vg(h) @ ph(h).T).mean(axis=1)
        res["scatter"].append({"pearson": float(np.corrcoef(x, y)[0, 1]), "x_0_4": x[:5].tolist(),
                               "y_0_4": y[:5].tolist()})
    return res


def gpt2():
    w = read_safetensors(os.path.join(DATA, "tiny-gpt2", "model.safetensors"))
    cfg = json.load(open(os.path.join(DATA, "tiny-gpt2", "config.json")))
    d, H = cfg["n_embd"], cfg["n_head"]
    dh = d // H
    C = np.eye(d) - np.ones((d, d)) / d
    g, lb = w["h.1.ln_1.weight"], w["h.1.ln_1.bias"]
    W, bW = w["h.1.attn.c_attn.weight"], w["h.1.attn.c_attn.bias"]
    Wo = w["h.1.attn.c_proj.weight"]
    res = {"svd_qk": [], "svd_qk_augmented": [], "svd_ov": []}
    for h in range(H):
        Wq, Wk = W[:, h * dh:(h + 1) * dh], W[:, d + h * dh:d + (h + 1) * dh]
        Wv = W[:, 2 * d + h * dh:2 * d + (h + 1) * dh]
        A, B = C @ (g[:, None] * Wq), C @ (g[:, None] * Wk)
        res["svd_qk"].append(svd_fixed(A @ B.T, dh)[1].tolist())
        bq = bW[h * dh:(h + 1) * dh] + lb @ Wq
        bk = bW[d + h * dh:d + (h + 1) * dh] + lb @ Wk
        At, Bt = np.vstack([A, bq]), np.vstack([B, bk])
        res["svd_qk_augmented"].append(svd_fixed(At @ Bt.T, dh)[1].tolist())
        Ao, Bo = C @ (g[:, None] * Wv), C @ Wo[h * dh:(h + 1) * dh, :].T
        res["svd_ov"].append(svd_fixed(Ao @ Bo.T, dh)[1].tolist())
    return res


if __name__ == "__main__":
    out = {"top": TOP, "gemma2_layer1": gemma(), "gpt2_layer1": gpt2()}
    with open(os.path.join(HERE, "analyses.json"), "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", os.path.join(HERE, "analyses.json"))
