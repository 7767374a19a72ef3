package dev.saelab.circuits;

import dev.saelab.forward.Activations;
import dev.saelab.forward.Hook;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import dev.saelab.model.NormKind;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A head's attention score on a prompt split exactly over its singular directions (Franco &amp;
 * Crovella, "Sparse Attention Decomposition Applied to Circuit Tracing"; kernel-ext/docs/math.md
 * §17).
 *
 * <p>For layer L, query head h, query position t and key position u: with the layer's input {@code
 * x_t} ({@code hook_resid_pre}), its input norm's per-token scale {@code ρ_t} (standard deviation
 * for LayerNorm, RMS for RMSNorm, each with its eps) frozen at its value, and the augmented input
 * {@code x̃_t = [x_t/ρ_t; 1]},
 *
 * <pre>
 *   score(t, u) = c · Σ_k σ_k (x̃_t·u_k)(x̃_u·v_k)
 * </pre>
 *
 * where {@code U Σ Vᵀ} is the thin SVD of the bias-augmented form {@code M = Ã·P·B̃ᵀ} ({@code Ã =
 * [N_in·W_Q^h; b̃_Q]}, {@code B̃ = [N_in·W_K^g; b̃_K]}, {@link HeadSvd}), P is the identity without
 * RoPE and the rotation {@code R(Δ)} by {@code Δ = t − u} with it (rotate-half pairing, the layer's
 * own RoPE), and c is the query scale, divided by the query's and key's per-head RMS when the model
 * has q_norm/k_norm (their gains then sit in Ã, B̃). The last entry of {@code u_k}, {@code v_k}
 * carries the biases. The score is the one before Gemma 2's soft-cap; {@link #modelScore()} undoes
 * the cap on the recorded {@code hook_attn_scores}.
 */
public final class PromptSvd {
  /** Which bilinear form was decomposed. */
  public enum Form {
    /** No RoPE: one SVD per head serves every (t, u). */
    BILINEAR("bias-augmented bilinear form (no RoPE)"),
    /** RoPE: the form at distance Δ = t − u, exact for this distance. */
    ROPE_AT_DISTANCE("bias-augmented form at distance Δ = t − u (RoPE rotation inside)"),
    /** RoPE and q/k norms: at distance Δ, with this pair's q and k RMS frozen. */
    ROPE_AT_DISTANCE_QK_RMS_FROZEN(
        "bias-augmented form at distance Δ = t − u, q_norm/k_norm gains inside, the query's and"
            + " key's RMS frozen at their values on this pair"),
    /** q/k norms without RoPE. */
    BILINEAR_QK_RMS_FROZEN(
        "bias-augmented bilinear form, q_norm/k_norm gains inside, the query's and key's RMS"
            + " frozen at their values on this pair");

    private final String description;

    Form(String description) {
      this.description = description;
    }

    /** One line saying what was decomposed. */
    public String description() {
      return description;
    }
  }

  /**
   * One singular direction's term of the score.
   *
   * @param k the direction (0 = largest σ of this form)
   * @param sigma its singular value σ_k
   * @param query the query-side factor {@code x̃_t·u_k}
   * @param key the key-side factor {@code x̃_u·v_k}
   * @param value {@code c·σ_k·query·key}
   */
  public record Term(int k, double sigma, double query, double key, double value) {}

  private final int layer;
  private final int head;
  private final int queryPos;
  private final int keyPos;
  private final Form form;
  private final double coefficient;
  private final double recordedScore;
  private final double modelScore;
  private final double rhoQuery;
  private final double rhoKey;
  private final HeadSvd svd;
  private final List<Term> terms; // by decreasing |value|
  private final double total;

  private PromptSvd(
      int layer,
      int head,
      int queryPos,
      int keyPos,
      Form form,
      double coefficient,
      double recordedScore,
      double modelScore,
      double rhoQuery,
      double rhoKey,
      HeadSvd svd,
      List<Term> terms,
      double total) {
    this.layer = layer;
    this.head = head;
    this.queryPos = queryPos;
    this.keyPos = keyPos;
    this.form = form;
    this.coefficient = coefficient;
    this.recordedScore = recordedScore;
    this.modelScore = modelScore;
    this.rhoQuery = rhoQuery;
    this.rhoKey = rhoKey;
    this.svd = svd;
    this.terms = terms;
    this.total = total;
  }

  /**
   * The hooks {@link #of} reads for layer {@code layer}: {@code blocks.L.hook_resid_pre} and {@code
   * blocks.L.attn.hook_attn_scores} (run {@code ForwardPass.run(model, ids, PromptSvd.hooks(L))}).
   */
  public static List<String> hooks(int layer) {
    return List.of(
        Hook.of(layer, Hook.Point.RESID_PRE).name(), Hook.of(layer, Hook.Point.ATTN_SCORES).name());
  }

  /**
   * Splits head {@code head} of layer {@code layer}'s score from query position {@code t} to key
   * position {@code u} over its singular directions.
   */
  public static PromptSvd of(
      ModelWeights model, Activations acts, int layer, int head, int t, int u) {
    ModelConfig c = model.config();
    if (layer < 0 || layer >= c.nLayers()) {
      throw new IllegalArgumentException(
          "layer " + layer + " out of range 0.." + (c.nLayers() - 1));
    }
    if (head < 0 || head >= c.nHeads()) {
      throw new IllegalArgumentException("head " + head + " out of range 0.." + (c.nHeads() - 1));
    }
    int n = acts.tokenIds().length;
    if (t < 0 || t >= n || u < 0 || u >= n) {
      throw new IllegalArgumentException(
          "positions query " + t + ", key " + u + ": the prompt has positions 0.." + (n - 1));
    }
    INDArray scores = acts.get(Hook.of(layer, Hook.Point.ATTN_SCORES));
    double recorded = scores.getDouble(head, t, u);
    if (u > t || Double.isInfinite(recorded)) {
      throw new IllegalArgumentException(
          "L"
              + layer
              + "H"
              + head
              + ": query position "
              + t
              + " does not attend to key position "
              + u
              + (u > t ? " (causal mask)" : " (sliding window)"));
    }
    INDArray x = acts.get(Hook.of(layer, Hook.Point.RESID_PRE));
    double[] xt = row(x, t);
    double[] xu = row(x, u);
    AttentionWeights attn = model.attention(layer);
    double rt = normScale(attn, xt, c.normEps());
    double ru = normScale(attn, xu, c.normEps());
    double[] at = augmented(xt, rt);
    double[] au = augmented(xu, ru);
    double[][] a = HeadSvd.augmentedQkFactor(attn, head, true, true);
    double[][] b = HeadSvd.augmentedQkFactor(attn, head, false, true);
    double coef = c.queryScale();
    boolean qkNorm = attn.qNorm() != null;
    if (qkNorm) {
      coef /=
          headRms(at, HeadSvd.augmentedQkFactor(attn, head, true, false), c.normEps())
              * headRms(au, HeadSvd.augmentedQkFactor(attn, head, false, false), c.normEps());
    }
    boolean rope = c.ropeFor(layer).present();
    if (rope) {
      Rope r = Rope.of(c, layer, Rope.Pairing.ROTATE_HALF);
      for (int i = 0; i < a.length; i++) {
        a[i] = r.rotate(a[i], t - u);
      }
    }
    Form form =
        rope
            ? (qkNorm ? Form.ROPE_AT_DISTANCE_QK_RMS_FROZEN : Form.ROPE_AT_DISTANCE)
            : (qkNorm ? Form.BILINEAR_QK_RMS_FROZEN : Form.BILINEAR);
    HeadSvd svd = HeadSvd.ofFactors(CircuitKind.QK, layer, head, true, a, b);
    double[] sigma = svd.sigma();
    List<Term> terms = new ArrayList<>();
    double total = 0;
    for (int k = 0; k < sigma.length; k++) {
      double qf = dot(at, svd.u(k));
      double kf = dot(au, svd.v(k));
      double v = coef * sigma[k] * qf * kf;
      total += v;
      terms.add(new Term(k, sigma[k], qf, kf, v));
    }
    terms.sort(
        Comparator.comparingDouble((Term e) -> -Math.abs(e.value())).thenComparingInt(Term::k));
    double cap = c.attnSoftcap();
    double pre = cap > 0 ? cap * atanh(recorded / cap) : recorded;
    return new PromptSvd(
        layer, head, t, u, form, coef, recorded, pre, rt, ru, svd, List.copyOf(terms), total);
  }

  private static double atanh(double x) {
    return 0.5 * Math.log((1 + x) / (1 - x));
  }

  private static double[] row(INDArray x, int t) {
    try (INDArray r = x.getRow(t).dup()) {
      return r.toDoubleVector();
    }
  }

  /** The input norm's per-token divisor: LayerNorm √(var + ε), RMSNorm √(mean(x²) + ε). */
  static double normScale(AttentionWeights attn, double[] x, double eps) {
    double mean = 0;
    if (attn.inputNorm().kind() == NormKind.LAYER) {
      for (double v : x) {
        mean += v;
      }
      mean /= x.length;
    }
    double ss = 0;
    for (double v : x) {
      ss += (v - mean) * (v - mean);
    }
    return Math.sqrt(ss / x.length + eps);
  }

  private static double[] augmented(double[] x, double rho) {
    double[] a = new double[x.length + 1];
    for (int i = 0; i < x.length; i++) {
      a[i] = x[i] / rho;
    }
    a[x.length] = 1;
    return a;
  }

  /** {@code √(mean((x̃·F)²) + ε)}: the RMS q_norm/k_norm divides the head's q or k by. */
  private static double headRms(double[] x, double[][] f, double eps) {
    int dh = f[0].length;
    double ss = 0;
    for (int j = 0; j < dh; j++) {
      double q = 0;
      for (int i = 0; i < x.length; i++) {
        q += x[i] * f[i][j];
      }
      ss += q * q;
    }
    return Math.sqrt(ss / dh + eps);
  }

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  /** The layer. */
  public int layer() {
    return layer;
  }

  /** The query head. */
  public int head() {
    return head;
  }

  /** "L1H0". */
  public String headName() {
    return "L" + layer + "H" + head;
  }

  /** The query (destination) position t. */
  public int queryPos() {
    return queryPos;
  }

  /** The key (source) position u. */
  public int keyPos() {
    return keyPos;
  }

  /** Which form was decomposed. */
  public Form form() {
    return form;
  }

  /**
   * The factor c on every term: the query scale, divided by the query's and key's per-head RMS for
   * q_norm/k_norm models.
   */
  public double coefficient() {
    return coefficient;
  }

  /** Every direction's term, largest |value| first (ties: smaller k first). */
  public List<Term> terms() {
    return terms;
  }

  /** The sum of the terms: the decomposition's score. */
  public double total() {
    return total;
  }

  /**
   * The model's pre-softmax score after the query scale and before any soft-cap: the recorded
   * {@code hook_attn_scores} entry, with Gemma 2's cap undone ({@code cap·atanh(s/cap)}).
   */
  public double modelScore() {
    return modelScore;
  }

  /** The recorded {@code hook_attn_scores} entry (after a soft-cap). */
  public double recordedScore() {
    return recordedScore;
  }

  /** {@code |total − modelScore| / max(|modelScore|, Σ_k |term_k|)}. */
  public double relativeError() {
    double abs = terms.stream().mapToDouble(e -> Math.abs(e.value())).sum();
    double scale = Math.max(Math.abs(modelScore), abs);
    return scale == 0 ? 0 : Math.abs(total - modelScore) / scale;
  }

  /**
   * How many directions (largest |term| first) carry {@code share} of {@code Σ_k |term_k|}, e.g.
   * 0.9: the same definition as {@link HeadSvd.Split#directionsFor}.
   */
  public int directionsFor(double share) {
    return Shares.countCarrying(terms.stream().mapToDouble(Term::value).toArray(), share);
  }

  /** The terms as a {@link HeadSvd.Split} (e.g. to print beside table-entry splits). */
  public HeadSvd.Split asSplit() {
    return new HeadSvd.Split(
        total,
        terms.stream().map(e -> new HeadSvd.Contribution(e.k(), e.sigma(), e.value())).toList());
  }

  /** The input norm's per-token scale at the query (ρ_t) and key (ρ_u) positions. */
  double rho(boolean query) {
    return query ? rhoQuery : rhoKey;
  }

  /** The decomposed form's SVD (for {@link HeadPaths}). */
  HeadSvd svd() {
    return svd;
  }

  /** The term of direction k. */
  Term term(int k) {
    for (Term e : terms) {
      if (e.k() == k) {
        return e;
      }
    }
    throw new IllegalArgumentException("direction " + k + " out of range");
  }

  @Override
  public String toString() {
    return String.format(
        Locale.ROOT,
        "PromptSvd %s query %d key %d: score %.6g = Σ of %d direction terms %.6g"
            + " (relative error %.2g), %d directions carry 90%%; %s",
        headName(),
        queryPos,
        keyPos,
        modelScore,
        terms.size(),
        total,
        relativeError(),
        directionsFor(0.9),
        form.description());
  }
}
