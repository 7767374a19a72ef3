package dev.saelab.circuits;

import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.sae.SaeDictionary;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * How a head's QK score between two fixed directions changes with the distance Δ between query and
 * key: for query direction x and key direction y (residual-stream vectors), {@code score_h(Δ) =
 * (R(Δ)·q_h)·k_g} with {@code q_h = fold(x)·W_Q^h}, {@code k_g = fold(y)·W_K^g} and {@code fold}
 * the layer's input norm gain (kernel-ext/docs/math.md §3, §8). The post's plot uses the input
 * SAE's decoder bias b_dec as both directions; any pair of SAE features works too.
 *
 * <p>On sliding-window layers (Gemma 2's even layers) a distance of {@code sliding_window} or more
 * is never attended: such points are marked {@link Point#masked()}.
 */
public final class PositionalProfile {
  /**
   * One point of a profile.
   *
   * @param layer the layer
   * @param head query head
   * @param queryFeature the query-side feature, or -1 for the decoder bias
   * @param keyFeature the key-side feature, or -1 for the decoder bias
   * @param delta distance Δ = query position − key position
   * @param score the QK score (raw, or times the query scale when asked)
   * @param masked whether the layer's sliding window hides this distance
   */
  public record Point(
      int layer,
      int head,
      int queryFeature,
      int keyFeature,
      int delta,
      double score,
      boolean masked) {
    /** "L13H4". */
    public String headName() {
      return "L" + layer + "H" + head;
    }
  }

  private PositionalProfile() {}

  /**
   * The post's distances: 0, then {@code count} log-spaced values from 1 to {@code context}
   * (rounded, duplicates dropped): {@code [0] + round(exp(linspace(0, ln context, count)))}.
   */
  public static int[] logDeltas(int context, int count) {
    if (context < 1 || count < 2) {
      throw new IllegalArgumentException("log-spaced distances need a context ≥ 1 and ≥ 2 points");
    }
    TreeSet<Integer> s = new TreeSet<>();
    s.add(0);
    double ln = Math.log(context);
    for (int i = 0; i < count; i++) {
      s.add((int) Math.rint(Math.exp(ln * i / (count - 1))));
    }
    return s.stream().mapToInt(Integer::intValue).toArray();
  }

  /**
   * Profiles of an SAE's directions: with {@code pairs} null, the query SAE's decoder bias b_dec as
   * query and key (the post's plot); otherwise each {@code {q, k}} pair of query-SAE feature q's
   * and key-SAE feature k's decoder rows.
   */
  public static List<Point> ofSae(
      AttentionWeights attn,
      Rope rope,
      SaeDictionary querySae,
      SaeDictionary keySae,
      int[][] pairs,
      HeadSet heads,
      int[] deltas,
      double scale) {
    return ofSae(attn, rope, querySae, keySae, pairs, heads, deltas, scale, QkNorm.EXACT);
  }

  /** As above, passing queries and keys through the model's q/k norms as {@code qkNorm} says. */
  public static List<Point> ofSae(
      AttentionWeights attn,
      Rope rope,
      SaeDictionary querySae,
      SaeDictionary keySae,
      int[][] pairs,
      HeadSet heads,
      int[] deltas,
      double scale,
      QkNorm qkNorm) {
    if (pairs == null) {
      float[] b = querySae.bDec().toFloatVector();
      return of(attn, rope, b, b, heads, deltas, scale, -1, -1, qkNorm);
    }
    List<Point> out = new ArrayList<>();
    for (int[] p : pairs) {
      checkFeature(p, 0, querySae, "query");
      checkFeature(p, 1, keySae, "key");
      out.addAll(
          of(
              attn,
              rope,
              querySae.wDec().getRow(p[0]).toFloatVector(),
              keySae.wDec().getRow(p[1]).toFloatVector(),
              heads,
              deltas,
              scale,
              p[0],
              p[1],
              qkNorm));
    }
    return out;
  }

  private static void checkFeature(int[] pair, int side, SaeDictionary sae, String what) {
    long n = sae.config().dSae();
    if (pair[side] < 0 || pair[side] >= n) {
      throw new IllegalArgumentException(
          "pair "
              + pair[0]
              + ":"
              + pair[1]
              + ": "
              + what
              + " feature "
              + pair[side]
              + " is not in 0.."
              + (n - 1));
    }
  }

  /**
   * The profile of each head for query direction {@code x} and key direction {@code y} (unfolded
   * residual vectors of length d_model).
   *
   * @param heads query heads
   * @param scale factor on every score (1 for raw, the model's query scale for logits)
   * @param queryFeature recorded in the points (-1: decoder bias)
   * @param keyFeature recorded in the points
   */
  public static List<Point> of(
      AttentionWeights attn,
      Rope rope,
      float[] x,
      float[] y,
      HeadSet heads,
      int[] deltas,
      double scale,
      int queryFeature,
      int keyFeature) {
    return of(attn, rope, x, y, heads, deltas, scale, queryFeature, keyFeature, QkNorm.EXACT);
  }

  /**
   * As above; a model with q/k norms (Gemma 3, Qwen3) normalises each head's query and key as
   * {@code qkNorm} says, before the rotation, as the model does.
   */
  public static List<Point> of(
      AttentionWeights attn,
      Rope rope,
      float[] x,
      float[] y,
      HeadSet heads,
      int[] deltas,
      double scale,
      int queryFeature,
      int keyFeature,
      QkNorm qkNorm) {
    ModelConfig c = attn.config();
    if (x.length != c.dModel() || y.length != c.dModel()) {
      throw new IllegalArgumentException(
          "profile directions must have d_model="
              + c.dModel()
              + " entries, got "
              + x.length
              + " and "
              + y.length);
    }
    int dh = c.dHead();
    double[] q;
    double[] k;
    try (INDArray xr = Nd4j.createFromArray(x).reshape(1, x.length);
        INDArray yr = Nd4j.createFromArray(y).reshape(1, y.length);
        INDArray xf = attn.inputNorm().foldInto(xr);
        INDArray yf = attn.inputNorm().foldInto(yr);
        INDArray qa = xf.mmul(attn.wQ());
        INDArray ka = yf.mmul(attn.wK())) {
      q = qa.toDoubleVector();
      k = ka.toDoubleVector();
    }
    boolean sliding = c.isSliding(attn.layer()) && c.slidingWindow() > 0;
    List<Point> out = new ArrayList<>();
    for (int h : heads.resolve(c)) {
      int g = c.kvHead(h);
      double[] qh = java.util.Arrays.copyOfRange(q, h * dh, (h + 1) * dh);
      double[] kg = java.util.Arrays.copyOfRange(k, g * dh, (g + 1) * dh);
      if (attn.qNorm() != null) {
        qh = qkNorm.apply(qh, attn.qNorm().gain().toFloatVector(), c.normEps());
        kg = qkNorm.apply(kg, attn.kNorm().gain().toFloatVector(), c.normEps());
      }
      for (int d : deltas) {
        if (d < 0) {
          throw new IllegalArgumentException(
              "distance " + d + ": expected Δ ≥ 0 (query at or after the key)");
        }
        double[] rq = rope.rotate(qh, d);
        double s = 0;
        for (int i = 0; i < dh; i++) {
          s += rq[i] * kg[i];
        }
        out.add(
            new Point(
                attn.layer(),
                h,
                queryFeature,
                keyFeature,
                d,
                s * scale,
                sliding && d >= c.slidingWindow()));
      }
    }
    return out;
  }
}
