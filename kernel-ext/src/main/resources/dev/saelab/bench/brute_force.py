"""Brute-force peers for `saelab bench tables`: J Bostock's method in float32, with numpy or PyTorch.

For every head: the full n x n QK and OV matrices (one GEMM each), then the top-k by |value| (numpy: argpartition and
a final sort; PyTorch: torch.topk, on all cores). Same shapes as the Java run; random data (timing only), identical for
both peers (made by numpy's generator, handed to torch without a copy). Prints one JSON line: the seconds of each round
(the data are made once, outside the timer), the process's peak RSS (VmHWM), and each product's top entry (so that the
peers can be checked against each other).
With --detect: only which peer this is (importable or not, version, threads) and what tells which BLAS it loaded; no
data, no timing. The Java side classifies that evidence (BenchCommand.classifyBlas).
usage: brute_force.py [--peer numpy|torch] [--detect] n_features d_model n_heads n_kv d_head top [rounds]
"""
import argparse
import contextlib
import ctypes
import io
import json
import os
import re
import resource
import subprocess
import sys
import sysconfig
import time

import numpy as np

BLAS_WORDS = ("blas", "mkl", "blis", "atlas", "accelerate", "veclib", "armpl", "nvpl", "essl")


def blas_evidence(torch=None):
    """What this process tells about the BLAS it loaded, most direct first: threadpoolctl (when importable), the shared
    libraries mapped into the process (Linux), then the alternatives system and the build-time records of numpy or
    torch (only when nothing is mapped, e.g. a static link or no /proc). Strings, classified on the Java side."""
    found = []
    try:
        import threadpoolctl
        for info in threadpoolctl.threadpool_info():
            if info.get("user_api") == "blas":
                found.append("threadpoolctl: %s %s %s" % (info.get("internal_api"), info.get("version"),
                                                          info.get("filepath")))
    except Exception:  # absent, or too old for this numpy
        pass
    mapped = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and parts[5].startswith("/"):
                    path = parts[5].strip()
                    if any(w in os.path.basename(path).lower() for w in BLAS_WORDS) and path not in mapped:
                        mapped.append(path)
    except OSError:
        pass
    found += mapped
    for path in mapped:  # OpenBLAS names its version, kernels and threads itself
        if "openblas" in path.lower():
            try:
                lib = ctypes.CDLL(path)
                lib.openblas_get_config.restype = ctypes.c_char_p
                found.append("openblas_get_config: %s; %d threads" % (lib.openblas_get_config().decode(),
                                                                      lib.openblas_get_num_threads()))
                break
            except (OSError, AttributeError):
                continue
    if not mapped:
        arch = sysconfig.get_config_var("MULTIARCH")
        if arch:
            try:
                q = subprocess.run(["update-alternatives", "--query", "libblas.so.3-" + arch], capture_output=True,
                                   text=True, timeout=10).stdout
                found += ["update-alternatives: " + l.split(None, 1)[1] for l in q.splitlines()
                          if l.startswith("Value: ")]
            except (OSError, subprocess.SubprocessError):
                pass
        if torch is not None:
            found += ["torch build-time: " + m for m in re.findall(r"BLAS_INFO=\w+", torch.__config__.show())]
        else:
            found += ["numpy build-time: " + s for s in numpy_build_blas()]
    return found


def numpy_build_blas():
    """The BLAS numpy was built against (not necessarily the one loaded), in numpy's own words: a dict since 1.26,
    printed sections before."""
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return ["%s %s" % (blas.get("name"), blas.get("version"))]
    except TypeError:  # numpy < 1.26: show_config() only prints
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            np.show_config()
        section = re.search(r"blas_opt_info:\n((?:[ \t]+.*\n?)*)", text.getvalue())
        libs = re.search(r"libraries = (\[.*?\])", section.group(1)) if section else None
        return [libs.group(1)] if libs else []
    except Exception:
        return []


def detect(peer):
    try:
        if peer == "torch":
            import torch
            torch.set_num_threads(os.cpu_count())
            torch.ones(64, 64) @ torch.ones(64, 64)  # the BLAS is loaded by now
            return {"peer": peer, "importable": True, "version": torch.__version__,
                    "threads": torch.get_num_threads(), "blas": blas_evidence(torch)}
        np.ones((64, 64), np.float32) @ np.ones((64, 64), np.float32)
        return {"peer": peer, "importable": True, "version": np.__version__, "threads": os.cpu_count(),
                "blas": blas_evidence()}
    except ImportError as e:
        return {"peer": peer, "importable": False, "error": str(e)}


def inputs(n, d, H, KV, dh):
    rng = np.random.default_rng(0)
    D = rng.standard_normal((n, d), dtype=np.float32)
    E = rng.standard_normal((n, d), dtype=np.float32)
    Wq = rng.standard_normal((d, H * dh), dtype=np.float32) * 0.02
    Wk = rng.standard_normal((d, KV * dh), dtype=np.float32) * 0.02
    Wv = rng.standard_normal((d, KV * dh), dtype=np.float32) * 0.02
    Wo = rng.standard_normal((H * dh, d), dtype=np.float32) * 0.02
    g = rng.standard_normal(d, dtype=np.float32)
    return D, E, Wq, Wk, Wv, Wo, g


def pairs(Q, K, V, P, H, KV, dh):
    """Each head's (left, right) factors of QK and of OV: the product is left @ right.T."""
    for h in range(H):
        gk = h // (H // KV)
        yield Q[:, h * dh:(h + 1) * dh], K[:, gk * dh:(gk + 1) * dh]
        yield V[:, gk * dh:(gk + 1) * dh], P[:, h * dh:(h + 1) * dh]


def numpy_round(data, H, KV, dh, top):
    D, E, Wq, Wk, Wv, Wo, g = data
    t0 = time.perf_counter()
    Dn = D * (1 + g)
    Q, K, V = Dn @ Wq, Dn @ Wk, Dn @ Wv
    P = (E * (1 + g)) @ Wo.T
    tops = []
    for left, right in pairs(Q, K, V, P, H, KV, dh):
        m = np.ascontiguousarray(left) @ np.ascontiguousarray(right).T
        flat = np.abs(m).ravel()
        idx = np.argpartition(flat, -top)[-top:]
        idx = idx[np.argsort(-flat[idx])]
        tops.append((int(idx[0]), float(m.ravel()[idx[0]])))
        del m, flat
    return time.perf_counter() - t0, tops


def torch_round(data, H, KV, dh, top):
    import torch
    D, E, Wq, Wk, Wv, Wo, g = data
    t0 = time.perf_counter()
    Dn = D * (1 + g)
    Q, K, V = Dn @ Wq, Dn @ Wk, Dn @ Wv
    P = (E * (1 + g)) @ Wo.T
    tops = []
    for left, right in pairs(Q, K, V, P, H, KV, dh):
        m = left.contiguous() @ right.contiguous().T
        _, idx = torch.topk(m.abs().ravel(), top)  # sorted, largest first
        tops.append((int(idx[0]), float(m.ravel()[idx[0]])))
        del m
    return time.perf_counter() - t0, tops


def peak_rss_kib():
    """This process's peak RSS in KiB: VmHWM where Linux has it, as the Java side measures itself. getrusage's ru_maxrss
    is only the fallback: Linux carries it across exec, so a python started by the JVM reports the JVM's peak at the
    fork when its own is smaller (measured: 575 MiB for a 130 MiB numpy run)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss  # bytes on macOS, KiB elsewhere


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", choices=("numpy", "torch"), default="numpy")
    ap.add_argument("--detect", action="store_true")
    ap.add_argument("shape", type=int, nargs="*")
    a = ap.parse_args()
    if a.detect:
        print(json.dumps(detect(a.peer)))
        return
    n, d, H, KV, dh, top = a.shape[:6]
    rounds = a.shape[6] if len(a.shape) > 6 else 1
    data = inputs(n, d, H, KV, dh)
    run = numpy_round
    if a.peer == "torch":
        import torch
        torch.set_num_threads(os.cpu_count())
        data = tuple(torch.from_numpy(x) for x in data)  # the same arrays, not copied
        run = torch_round
    results = [run(data, H, KV, dh, top) for _ in range(rounds)]
    print(json.dumps({"peer": a.peer, "rounds": [r[0] for r in results], "maxrss_kib": peak_rss_kib(),
                      "tops": results[0][1]}))


if __name__ == "__main__":
    sys.exit(main())
