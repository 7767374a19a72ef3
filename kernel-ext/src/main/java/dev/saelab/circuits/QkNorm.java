package dev.saelab.circuits;

import dev.saelab.model.Norm;
import java.util.Locale;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * How QK tables pass through a model's per-head query and key norms ({@code q_norm}/{@code k_norm}
 * of Gemma 3 and Qwen3, applied before RoPE). With one feature i in the residual the model's query
 * is {@code q̂_i = g_q ⊙ q_i / rms(q_i)} (rms over the head's d_head, with the config's eps), so
 * the {@link #EXACT} single-feature table is {@code QK[i,j] = (g_q ⊙ q_i)·(g_k ⊙ k_j) / (rms(q_i)
 * rms(k_j))}: bounded, and independent of how strongly the features fire. The {@link #PROXY} is the
 * bilinear form {@code (g_q ⊙ q_i)·(g_k ⊙ k_j)}, which ignores the normalisation
 * (kernel-ext/docs/math.md §4).
 */
public enum QkNorm {
  /** Each query and key normalised as the model does: the exact single-feature table (default). */
  EXACT,
  /** Only the gains: the bilinear proxy. */
  PROXY;

  /** Parses {@code exact} or {@code proxy}. */
  public static QkNorm parse(String s) {
    return switch (s.toLowerCase(Locale.ROOT)) {
      case "exact" -> EXACT;
      case "proxy" -> PROXY;
      default -> throw new IllegalArgumentException("q/k norm " + s + ": expected exact or proxy");
    };
  }

  /** {@code exact} or {@code proxy}. */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** How tables name it: "q/k-normalised (exact)" or "q/k-norm gains only (proxy)". */
  public String label() {
    return this == EXACT ? "q/k-normalised (exact)" : "q/k-norm gains only (proxy)";
  }

  /**
   * Applies the norm in place to every head block of a projection {@code [n, blocks·d_head]}: each
   * block row becomes {@code g ⊙ r / rms(r)} ({@link #EXACT}) or {@code g ⊙ r} ({@link #PROXY}).
   */
  void applyInPlace(INDArray projection, int dHead, Norm norm, double eps) {
    long blocks = projection.columns() / dHead;
    for (int b = 0; b < blocks; b++) {
      INDArray block = HeadProjections.headView(projection, b, dHead);
      if (this == EXACT) {
        try (INDArray sq = block.mul(block);
            INDArray ms = sq.mean(1);
            INDArray rms = Transforms.sqrt(ms.addi(eps), false)) {
          block.diviColumnVector(rms.reshape(rms.length(), 1));
        }
      }
      block.muliRowVector(norm.gain());
    }
  }

  /** The same on one head vector, in double precision. */
  double[] apply(double[] x, float[] gain, double eps) {
    double scale = 1;
    if (this == EXACT) {
      double s = 0;
      for (double v : x) {
        s += v * v;
      }
      scale = 1 / Math.sqrt(s / x.length + eps);
    }
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = x[i] * scale * gain[i];
    }
    return y;
  }
}
