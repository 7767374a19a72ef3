package dev.saelab.circuits;

import dev.saelab.model.ModelConfig;
import dev.saelab.model.RopeParams;
import java.util.Locale;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Rotary position embeddings as they act on a query–key score: with a query at position m and a key
 * at position n = m − Δ, {@code q_mᵀ k_n = (R(Δ) q)ᵀ k}, so a QK table "at distance Δ" rotates
 * every query by R(Δ) and keeps the keys. R(Δ) rotates each pair of dimensions {@code (a_j, b_j)}
 * by the angle {@code Δ·θ^(−2j/d_head)}.
 *
 * <p>Pairing (kernel-ext/docs/math.md §8): {@link Pairing#ROTATE_HALF} pairs dimension j with j +
 * d_head/2, as Hugging Face's Gemma, Llama and Mistral do; {@link Pairing#INTERLEAVED} pairs 2j
 * with 2j + 1, as the original RoPE paper and J Bostock's positional plot do (which is not what
 * Gemma computes).
 */
public final class Rope {
  /** How RoPE pairs the dimensions of a head. */
  public enum Pairing {
    /** j with j + d_head/2 (Hugging Face {@code rotate_half}; Gemma, Llama). */
    ROTATE_HALF,
    /** 2j with 2j + 1 (GPT-NeoX-less "interleaved" layout; Bostock's plot). */
    INTERLEAVED;

    /** Parses {@code rotate-half} or {@code interleaved}. */
    public static Pairing parse(String s) {
      return switch (s.toLowerCase(Locale.ROOT).replace('_', '-')) {
        case "rotate-half" -> ROTATE_HALF;
        case "interleaved" -> INTERLEAVED;
        default ->
            throw new IllegalArgumentException(
                "RoPE pairing " + s + ": expected rotate-half or interleaved");
      };
    }

    /** {@code rotate-half} or {@code interleaved}. */
    public String id() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  private final int dHead;
  private final double[] invFreq;
  private final Pairing pairing;

  /**
   * @param dHead head width (even)
   * @param theta RoPE base (10000 for Gemma 2), unscaled
   * @param pairing dimension pairing
   */
  public Rope(int dHead, double theta, Pairing pairing) {
    this(dHead, checkedPlain(dHead, theta), pairing);
  }

  /**
   * @param dHead head width (even)
   * @param invFreq the {@code d_head/2} pair frequencies, after any scaling ({@link
   *     RopeParams#invFreq})
   * @param pairing dimension pairing
   */
  public Rope(int dHead, double[] invFreq, Pairing pairing) {
    if (dHead <= 0 || dHead % 2 != 0) {
      throw new IllegalArgumentException("RoPE needs an even d_head, got " + dHead);
    }
    if (invFreq.length != dHead / 2) {
      throw new IllegalArgumentException(
          "RoPE needs d_head/2 = " + dHead / 2 + " frequencies, got " + invFreq.length);
    }
    this.dHead = dHead;
    this.invFreq = invFreq.clone();
    this.pairing = pairing;
  }

  private static double[] checkedPlain(int dHead, double theta) {
    if (!(theta > 0)) {
      throw new IllegalArgumentException("RoPE needs a positive base θ, got " + theta);
    }
    if (dHead <= 0 || dHead % 2 != 0) {
      throw new IllegalArgumentException("RoPE needs an even d_head, got " + dHead);
    }
    return RopeParams.plain(theta).invFreq(dHead);
  }

  /**
   * The model's RoPE of its global layers; an error for models without rotary embeddings (GPT-2
   * uses learned positions).
   */
  public static Rope of(ModelConfig c, Pairing pairing) {
    return of(c, c.rope(), pairing);
  }

  /**
   * The RoPE of layer {@code layer}: Gemma 3's sliding layers have their own base, global layers
   * their scaling ({@link ModelConfig#ropeFor}).
   */
  public static Rope of(ModelConfig c, int layer, Pairing pairing) {
    return of(c, c.ropeFor(layer), pairing);
  }

  private static Rope of(ModelConfig c, RopeParams p, Pairing pairing) {
    if (!p.present()) {
      throw new IllegalArgumentException(
          c.modelType()
              + " has no rotary position embeddings (rope_theta); QK at a"
              + " distance is only defined for RoPE models");
    }
    return new Rope(c.dHead(), p.invFreq(c.dHead()), pairing);
  }

  /** The pairing. */
  public Pairing pairing() {
    return pairing;
  }

  /** The two dimensions of pair j. */
  int[] pair(int j) {
    return pairing == Pairing.ROTATE_HALF
        ? new int[] {j, j + dHead / 2}
        : new int[] {2 * j, 2 * j + 1};
  }

  /** Angle of pair j at distance Δ: {@code Δ·θ^(−2j/d_head)}, after the model's scaling. */
  public double angle(int j, double delta) {
    return delta * invFreq[j];
  }

  /** {@code R(Δ)·x} for one head vector (double precision). */
  public double[] rotate(double[] x, double delta) {
    if (x.length != dHead) {
      throw new IllegalArgumentException(
          "vector of length " + x.length + ", expected d_head=" + dHead);
    }
    double[] y = x.clone();
    for (int j = 0; j < dHead / 2; j++) {
      int[] p = pair(j);
      double c = Math.cos(angle(j, delta));
      double s = Math.sin(angle(j, delta));
      y[p[0]] = x[p[0]] * c - x[p[1]] * s;
      y[p[1]] = x[p[1]] * c + x[p[0]] * s;
    }
    return y;
  }

  /**
   * {@code R(Δ)} applied to every row of {@code x [n, d_head]} (e.g. one head's queries); returns a
   * new c-order float array.
   */
  public INDArray rotateRows(INDArray x, double delta) {
    if (x.columns() != dHead) {
      throw new IllegalArgumentException(
          "rows of width " + x.columns() + ", expected d_head=" + dHead);
    }
    int n = x.rows();
    float[] v;
    try (INDArray c = x.dup('c')) {
      v = c.data().asFloat();
    }
    int half = dHead / 2;
    double[] cos = new double[half];
    double[] sin = new double[half];
    int[] a = new int[half];
    int[] b = new int[half];
    for (int j = 0; j < half; j++) {
      cos[j] = Math.cos(angle(j, delta));
      sin[j] = Math.sin(angle(j, delta));
      a[j] = pair(j)[0];
      b[j] = pair(j)[1];
    }
    for (int r = 0; r < n; r++) {
      int o = r * dHead;
      for (int j = 0; j < half; j++) {
        double xa = v[o + a[j]];
        double xb = v[o + b[j]];
        v[o + a[j]] = (float) (xa * cos[j] - xb * sin[j]);
        v[o + b[j]] = (float) (xb * cos[j] + xa * sin[j]);
      }
    }
    return Nd4j.create(v, new long[] {n, dHead}, 'c');
  }
}
