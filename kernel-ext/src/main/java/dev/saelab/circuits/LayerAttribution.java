package dev.saelab.circuits;

import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.Norm;
import dev.saelab.model.NormKind;
import dev.saelab.sae.FeatureActivations;
import dev.saelab.sae.SaeConfig;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.sae.SaeEncoder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One attention layer on a prompt, ready to split its scores and writes over SAE features
 * (kernel-ext/docs/math.md §16): the layer's input rows {@code x_t} (resid_pre of the layer), their
 * decomposition by the input SAE {@code x_t = Σ_i a_{t,i}·d_i + b_dec + ε_t}, the input norm's
 * per-token scale {@code ρ_t} frozen at its value on the prompt, and the layer's own attention on
 * those rows recomputed in double (scores, soft-cap, masks, pattern, per-head mixes, the
 * post-attention norm's {@code ρ′_t}).
 *
 * <pre>
 * var x = ForwardPass.run(model, ids, List.of("blocks.1.hook_resid_pre")).get("blocks.1.hook_resid_pre");
 * var layer = LayerAttribution.of(model.attention(1), saeIn, x);
 * QkAttribution qk = layer.qk(1, 5, 2);     // head 1, query position 5, key position 2
 * qk.pairs(10); qk.total(); qk.modelScore();
 * OvAttribution ov = layer.ov(2, 7, saeOut); // head 2 at destination 7, read by the output SAE
 * </pre>
 *
 * <p>Per-feature projections are computed only for features active somewhere on the prompt and
 * cached; the dictionary is never projected whole. Rows may be any residual {@code [T, d_model]} (a
 * recorded {@code hook_resid_pre}, or rows built to plant activations).
 */
public final class LayerAttribution {
  private final AttentionWeights attn;
  private final ModelConfig c;
  private final SaeDictionary sae;
  private final FeatureActivations acts;
  private final int positions;
  private final int dModel;
  private final int dHead;
  private final double[][] x;
  private final double[] rho;
  private final double[][] error;
  private final double[] gain;
  private final boolean layerNorm;
  private final INDArray wQ;
  private final INDArray wK;
  private final INDArray wV;
  private final double[] biasQ;
  private final double[] biasK;
  private final double[] biasV;
  private final double[][] qPre;
  private final double[][] kPre;
  private final double[][] v;
  private final Rope rope;
  private final int window;
  private final double[] bDecFolded;
  private final java.util.List<Map<Integer, double[]>> featureCache =
      java.util.List.of(new HashMap<>(), new HashMap<>(), new HashMap<>());
  private final double[][][] errorCache = new double[3][][];
  private final double[][] bDecCache = new double[3][];
  private final Map<Integer, Destination> destinations = new HashMap<>();

  /** What the layer computes at one destination, for every head. */
  record Destination(
      double[][] scores, double[][] capped, double[][] pattern, double[][] z, double rhoPrime) {}

  /** Which projection: query, key or value. */
  enum Side {
    Q,
    K,
    V
  }

  private LayerAttribution(
      AttentionWeights attn, SaeDictionary sae, INDArray rows, FeatureActivations acts) {
    this.attn = attn;
    this.c = attn.config();
    this.sae = sae;
    this.acts = acts;
    this.positions = (int) rows.size(0);
    this.dModel = c.dModel();
    this.dHead = c.dHead();
    Norm in = attn.inputNorm();
    this.layerNorm = in.kind() == NormKind.LAYER;
    this.gain = in.gain().castTo(DataType.DOUBLE).toDoubleVector();
    double[] bLn = in.bias() == null ? null : in.bias().castTo(DataType.DOUBLE).toDoubleVector();
    try (INDArray r = rows.castTo(DataType.DOUBLE)) {
      this.x = r.toDoubleMatrix();
    }
    this.rho = new double[positions];
    double eps = c.normEps();
    for (int t = 0; t < positions; t++) {
      rho[t] = rho(x[t], eps);
    }
    this.wQ = attn.wQ().castTo(DataType.DOUBLE);
    this.wK = attn.wK().castTo(DataType.DOUBLE);
    this.wV = attn.wV().castTo(DataType.DOUBLE);
    this.biasQ = foldedBias(attn.bQ(), bLn, wQ);
    this.biasK = foldedBias(attn.bK(), bLn, wK);
    this.biasV = foldedBias(attn.bV(), bLn, wV);
    // the model's own projections of the normalised rows
    double[][] normed = new double[positions][];
    for (int t = 0; t < positions; t++) {
      normed[t] = foldIn(x[t]);
      for (int m = 0; m < dModel; m++) {
        normed[t][m] /= rho[t];
      }
    }
    this.qPre = addRow(project(normed, wQ), biasQ);
    this.kPre = addRow(project(normed, wK), biasK);
    this.v = addRow(project(normed, wV), biasV);
    this.rope =
        c.ropeFor(attn.layer()).present()
            ? Rope.of(c, attn.layer(), Rope.Pairing.ROTATE_HALF)
            : null;
    this.window = c.isSliding(attn.layer()) ? c.slidingWindow() : 0;
    // the decomposition's error, in double so that the parts add up to the row
    double[] bDec = sae.bDec().castTo(DataType.DOUBLE).toDoubleVector();
    this.bDecFolded = foldIn(bDec);
    INDArray wDec = sae.wDec();
    this.error = new double[positions][];
    for (int t = 0; t < positions; t++) {
      double[] e = x[t].clone();
      int[] f = acts.features(t);
      float[] a = acts.values(t);
      for (int m = 0; m < dModel; m++) {
        e[m] -= bDec[m];
      }
      if (f.length > 0) {
        double[][] d = rowsOf(wDec, f);
        for (int i = 0; i < f.length; i++) {
          for (int m = 0; m < dModel; m++) {
            e[m] -= a[i] * d[i][m];
          }
        }
      }
      error[t] = e;
    }
  }

  /**
   * Encodes {@code residPre} ({@code [T, d_model]}, the layer's input rows) with {@code inputSae}
   * and prepares the layer. The SAE must read this layer's input stream ({@code
   * blocks.L.hook_resid_pre} or {@code blocks.(L−1).hook_resid_post}) with width d_model.
   */
  public static LayerAttribution of(
      AttentionWeights attn, SaeDictionary inputSae, INDArray residPre) {
    checkRows(attn, residPre);
    requireInputSae(attn, inputSae);
    return new LayerAttribution(attn, inputSae, residPre, SaeEncoder.of(inputSae).encode(residPre));
  }

  /**
   * As {@link #of(AttentionWeights, SaeDictionary, INDArray)} with the rows already encoded by
   * {@code inputSae} ({@code acts} from {@link SaeEncoder#encode} on the same rows; its error is
   * recomputed in double from the raw rows).
   */
  public static LayerAttribution of(
      AttentionWeights attn, SaeDictionary inputSae, INDArray residPre, FeatureActivations acts) {
    checkRows(attn, residPre);
    requireInputSae(attn, inputSae);
    if (acts.positions() != residPre.size(0) || acts.dSae() != inputSae.config().dSae()) {
      throw new IllegalArgumentException(
          "feature activations of "
              + acts.positions()
              + " positions and "
              + acts.dSae()
              + " features do not fit "
              + residPre.size(0)
              + " residual rows and the SAE's "
              + inputSae.config().dSae()
              + " features");
    }
    return new LayerAttribution(attn, inputSae, residPre, acts);
  }

  private static void checkRows(AttentionWeights attn, INDArray rows) {
    int d = attn.config().dModel();
    if (rows.rank() != 2 || rows.size(1) != d || rows.size(0) < 1) {
      throw new IllegalArgumentException(
          "residual rows "
              + Arrays.toString(rows.shape())
              + ": expected [positions, d_model="
              + d
              + "], the input of layer "
              + attn.layer());
    }
  }

  /**
   * An error unless {@code sae} reads layer {@code attn.layer()}'s input: width d_model and hook
   * {@code blocks.L.hook_resid_pre} or {@code blocks.(L−1).hook_resid_post} (an SAE whose files
   * name no hook is accepted).
   */
  public static void requireInputSae(AttentionWeights attn, SaeDictionary sae) {
    int l = attn.layer();
    requireStream(
        attn,
        sae,
        "blocks." + l + ".hook_resid_pre",
        l > 0 ? "blocks." + (l - 1) + ".hook_resid_post" : null,
        "layer " + l + "'s input");
  }

  /**
   * An error unless {@code sae} reads layer {@code attn.layer()}'s output: width d_model and hook
   * {@code blocks.L.hook_resid_post} or {@code blocks.(L+1).hook_resid_pre}.
   */
  public static void requireOutputSae(AttentionWeights attn, SaeDictionary sae) {
    int l = attn.layer();
    requireStream(
        attn,
        sae,
        "blocks." + l + ".hook_resid_post",
        "blocks." + (l + 1) + ".hook_resid_pre",
        "layer " + l + "'s output");
  }

  private static void requireStream(
      AttentionWeights attn, SaeDictionary sae, String hook, String alias, String what) {
    SaeConfig s = sae.config();
    int d = attn.config().dModel();
    if (s.dIn() != d) {
      throw new IllegalArgumentException(
          "an SAE for a different stream or width: "
              + sae
              + " reads rows of width "
              + s.dIn()
              + ", but "
              + what
              + " has d_model="
              + d);
    }
    String h = s.hookName();
    if (h != null && !h.equals(hook) && !h.equals(alias)) {
      throw new IllegalArgumentException(
          "an SAE for a different stream or width: "
              + sae
              + " reads "
              + h
              + ", not "
              + what
              + " ("
              + hook
              + (alias != null ? " = " + alias : "")
              + ")");
    }
  }

  // ---- what the layer is

  /** The attention layer's index. */
  public int layer() {
    return attn.layer();
  }

  /** The attention weights. */
  public AttentionWeights attention() {
    return attn;
  }

  /** The input SAE. */
  public SaeDictionary inputSae() {
    return sae;
  }

  /** The input SAE's activations at every position. */
  public FeatureActivations activations() {
    return acts;
  }

  /** Number of positions T. */
  public int positions() {
    return positions;
  }

  /** The input norm's scale at {@code t}: {@code sqrt(mean(x²)+eps)}, or LayerNorm's std. */
  public double rho(int t) {
    return rho[checkPos(t)];
  }

  /** The post-attention norm's scale at {@code t} (Gemma 2/3), 1 for models without one. */
  public double rhoPrime(int t) {
    return destination(checkPos(t)).rhoPrime();
  }

  /** The reconstruction error {@code ε_t} of the input SAE at {@code t}, in double (a copy). */
  public double[] error(int t) {
    return error[checkPos(t)].clone();
  }

  /** Whether query position {@code t} attends to key position {@code u} (causal, window). */
  public boolean attends(int t, int u) {
    return u >= 0 && u <= t && t < positions && (window <= 0 || t - u < window);
  }

  /**
   * The model's score of head {@code h} from {@code t} to {@code u}, after the query scale and
   * before the soft-cap.
   */
  public double score(int h, int t, int u) {
    checkPair(h, t, u);
    return destination(t).scores()[h][u];
  }

  /** The score after the soft-cap, as {@code hook_attn_scores} records it. */
  public double cappedScore(int h, int t, int u) {
    checkPair(h, t, u);
    return destination(t).capped()[h][u];
  }

  /** The attention probability of head {@code h} from {@code t} to {@code u} (0 where masked). */
  public double pattern(int h, int t, int u) {
    checkHead(h);
    checkPos(t);
    checkPos(u);
    return destination(t).pattern()[h][u];
  }

  // ---- attributions

  /**
   * Head {@code head}'s score from query position {@code t} to key position {@code u} split exactly
   * into query-part × key-part terms (math.md §16).
   */
  public QkAttribution qk(int head, int t, int u) {
    checkPair(head, t, u);
    return QkAttribution.compute(this, head, t, u);
  }

  /**
   * What head {@code head} writes at destination {@code t}, split over source positions and value
   * features, read along the residual coordinates (no output SAE).
   */
  public OvAttribution ov(int head, int t) {
    checkHead(head);
    checkPos(t);
    return OvAttribution.compute(this, head, t, null, null);
  }

  /**
   * What head {@code head} writes at destination {@code t} into the output SAE's features: the
   * {@link OvAttribution#DEFAULT_OUTPUTS} features it writes most (by |contribution| to their
   * pre-activations). {@code outputSae} must read this layer's output stream.
   */
  public OvAttribution ov(int head, int t, SaeDictionary outputSae) {
    return ov(head, t, outputSae, (int[]) null);
  }

  /** As {@link #ov(int, int, SaeDictionary)} for the given output features. */
  public OvAttribution ov(int head, int t, SaeDictionary outputSae, int... outputFeatures) {
    checkHead(head);
    checkPos(t);
    requireOutputSae(attn, outputSae);
    if (outputFeatures != null) {
      for (int j : outputFeatures) {
        if (j < 0 || j >= outputSae.config().dSae()) {
          throw new IllegalArgumentException(
              "output feature "
                  + j
                  + " out of range 0.."
                  + (outputSae.config().dSae() - 1)
                  + " of "
                  + outputSae);
        }
      }
    }
    return OvAttribution.compute(this, head, t, outputSae, outputFeatures);
  }

  // ---- package-private building blocks for QkAttribution and OvAttribution

  ModelConfig config() {
    return c;
  }

  Rope rope() {
    return rope;
  }

  double[][] x() {
    return x;
  }

  /** Head block {@code b} of the model's query at {@code t} before q_norm and RoPE. */
  double[] qPre(int t, int h) {
    return Arrays.copyOfRange(qPre[t], h * dHead, (h + 1) * dHead);
  }

  /** KV-head block {@code g} of the model's key at {@code u} before k_norm and RoPE. */
  double[] kPre(int u, int g) {
    return Arrays.copyOfRange(kPre[u], g * dHead, (g + 1) * dHead);
  }

  /** {@code b̃} of a side, head block {@code b}. */
  double[] bias(Side s, int b) {
    double[] full = s == Side.Q ? biasQ : s == Side.K ? biasK : biasV;
    return Arrays.copyOfRange(full, b * dHead, (b + 1) * dHead);
  }

  /** {@code fold_in(d_i)·W} for each feature, head block {@code b} (unit activation, no ρ). */
  double[][] featureProjections(Side s, int[] features, int b) {
    Map<Integer, double[]> cache = featureCache.get(s.ordinal());
    int[] missing = Arrays.stream(features).filter(f -> !cache.containsKey(f)).distinct().toArray();
    if (missing.length > 0) {
      double[][] d = rowsOf(sae.wDec(), missing);
      for (int i = 0; i < d.length; i++) {
        d[i] = foldIn(d[i]);
      }
      double[][] p = project(d, weight(s));
      for (int i = 0; i < missing.length; i++) {
        cache.put(missing[i], p[i]);
      }
    }
    double[][] out = new double[features.length][];
    for (int i = 0; i < features.length; i++) {
      out[i] = Arrays.copyOfRange(cache.get(features[i]), b * dHead, (b + 1) * dHead);
    }
    return out;
  }

  /** {@code fold_in(b_dec)·W}, head block {@code b} (no ρ). */
  double[] bDecProjection(Side s, int b) {
    if (bDecCache[s.ordinal()] == null) {
      bDecCache[s.ordinal()] = project(new double[][] {bDecFolded}, weight(s))[0];
    }
    return Arrays.copyOfRange(bDecCache[s.ordinal()], b * dHead, (b + 1) * dHead);
  }

  /** {@code fold_in(ε_t)·W}, head block {@code b} (no ρ). */
  double[] errorProjection(Side s, int t, int b) {
    if (errorCache[s.ordinal()] == null) {
      double[][] f = new double[positions][];
      for (int p = 0; p < positions; p++) {
        f[p] = foldIn(error[p]);
      }
      errorCache[s.ordinal()] = project(f, weight(s));
    }
    return Arrays.copyOfRange(errorCache[s.ordinal()][t], b * dHead, (b + 1) * dHead);
  }

  /** The layer's computation at destination {@code t} for every head (cached). */
  synchronized Destination destination(int t) {
    return destinations.computeIfAbsent(t, this::computeDestination);
  }

  private Destination computeDestination(int t) {
    int nh = c.nHeads();
    double scale = c.queryScale();
    double cap = c.attnSoftcap();
    double[][] scores = new double[nh][positions];
    double[][] capped = new double[nh][positions];
    double[][] pattern = new double[nh][positions];
    double[][] z = new double[nh][dHead];
    for (int h = 0; h < nh; h++) {
      int g = c.kvHead(h);
      double[] q = normedQuery(t, h);
      double max = Double.NEGATIVE_INFINITY;
      for (int u = 0; u < positions; u++) {
        if (!attends(t, u)) {
          scores[h][u] = Double.NEGATIVE_INFINITY;
          capped[h][u] = Double.NEGATIVE_INFINITY;
          continue;
        }
        double[] k = normedKey(u, g);
        double[] qr = rope != null ? rope.rotate(q, t - u) : q;
        double s = scale * dot(qr, k);
        scores[h][u] = s;
        capped[h][u] = cap > 0 ? Math.tanh(s / cap) * cap : s;
        max = Math.max(max, capped[h][u]);
      }
      double sum = 0;
      for (int u = 0; u < positions; u++) {
        if (attends(t, u)) {
          pattern[h][u] = Math.exp(capped[h][u] - max);
          sum += pattern[h][u];
        }
      }
      for (int u = 0; u < positions; u++) {
        pattern[h][u] /= sum;
        if (pattern[h][u] != 0) {
          for (int e = 0; e < dHead; e++) {
            z[h][e] += pattern[h][u] * v[u][g * dHead + e];
          }
        }
      }
    }
    double rhoPrime = 1;
    Norm post = attn.postAttnNorm();
    if (post != null) {
      double[] o = attentionOutput(z);
      double ss = 0;
      for (double e : o) {
        ss += e * e;
      }
      rhoPrime = Math.sqrt(ss / dModel + c.normEps());
    }
    return new Destination(scores, capped, pattern, z, rhoPrime);
  }

  /** {@code Σ_h z^h·W_O^h + b_O} at one destination. */
  private double[] attentionOutput(double[][] z) {
    double[] o =
        attn.bO() == null ? new double[dModel] : attn.bO().castTo(DataType.DOUBLE).toDoubleVector();
    float[] wO = floats(attn.wO());
    int nh = c.nHeads();
    for (int h = 0; h < nh; h++) {
      for (int e = 0; e < dHead; e++) {
        double ze = z[h][e];
        int row = (h * dHead + e) * dModel;
        for (int m = 0; m < dModel; m++) {
          o[m] += ze * wO[row + m];
        }
      }
    }
    return o;
  }

  /** The model's query of head h at t after q_norm (before RoPE). */
  double[] normedQuery(int t, int h) {
    double[] q = qPre(t, h);
    return attn.qNorm() == null ? q : qkNorm(q, attn.qNorm());
  }

  double[] normedKey(int u, int g) {
    double[] k = kPre(u, g);
    return attn.kNorm() == null ? k : qkNorm(k, attn.kNorm());
  }

  /** The rms of a head vector with the config's eps (q_norm/k_norm's per-token scale). */
  double headRms(double[] q) {
    double ss = 0;
    for (double e : q) {
      ss += e * e;
    }
    return Math.sqrt(ss / q.length + c.normEps());
  }

  private double[] qkNorm(double[] q, Norm n) {
    double r = headRms(q);
    double[] g = n.gain().castTo(DataType.DOUBLE).toDoubleVector();
    double[] y = new double[q.length];
    for (int e = 0; e < q.length; e++) {
      y[e] = q[e] / r * g[e];
    }
    return y;
  }

  // ---- arithmetic

  private INDArray weight(Side s) {
    return s == Side.Q ? wQ : s == Side.K ? wK : wV;
  }

  private double rho(double[] r, double eps) {
    double mean = 0;
    if (layerNorm) {
      for (double e : r) {
        mean += e;
      }
      mean /= r.length;
    }
    double ss = 0;
    for (double e : r) {
      ss += (e - mean) * (e - mean);
    }
    return Math.sqrt(ss / r.length + eps);
  }

  /** The input norm's linear part: centre (LayerNorm), then the gain. */
  double[] foldIn(double[] r) {
    double mean = 0;
    if (layerNorm) {
      for (double e : r) {
        mean += e;
      }
      mean /= r.length;
    }
    double[] y = new double[r.length];
    for (int m = 0; m < r.length; m++) {
      y[m] = (r[m] - mean) * gain[m];
    }
    return y;
  }

  private double[] foldedBias(INDArray b, double[] bLn, INDArray w) {
    double[] out =
        b == null ? new double[(int) w.size(1)] : b.castTo(DataType.DOUBLE).toDoubleVector();
    if (bLn != null) {
      double[] p = project(new double[][] {bLn}, w)[0];
      for (int i = 0; i < out.length; i++) {
        out[i] += p[i];
      }
    }
    return out;
  }

  /** {@code rows [n, d_model] · w [d_model, width]} in double. */
  static double[][] project(double[][] rows, INDArray w) {
    try (INDArray a = Nd4j.create(rows);
        INDArray p = a.mmul(w)) {
      return p.toDoubleMatrix();
    }
  }

  private static double[][] addRow(double[][] m, double[] b) {
    for (double[] r : m) {
      for (int i = 0; i < r.length; i++) {
        r[i] += b[i];
      }
    }
    return m;
  }

  /** Rows {@code idx} of a float matrix, in double. */
  static double[][] rowsOf(INDArray m, int[] idx) {
    try (INDArray r = m.getRows(idx);
        INDArray d = r.castTo(DataType.DOUBLE)) {
      return d.reshape(idx.length, m.size(1)).toDoubleMatrix();
    }
  }

  static float[] floats(INDArray a) {
    try (INDArray c = a.castTo(DataType.FLOAT).dup('c')) {
      return c.data().asFloat();
    }
  }

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  private int checkPos(int t) {
    if (t < 0 || t >= positions) {
      throw new IllegalArgumentException(
          "position " + t + " out of range 0.." + (positions - 1) + " of the prompt");
    }
    return t;
  }

  private void checkHead(int h) {
    if (h < 0 || h >= c.nHeads()) {
      throw new IllegalArgumentException(
          "head " + h + " out of range 0.." + (c.nHeads() - 1) + " of layer " + attn.layer());
    }
  }

  private void checkPair(int h, int t, int u) {
    checkHead(h);
    checkPos(t);
    checkPos(u);
    if (!attends(t, u)) {
      throw new IllegalArgumentException(
          "query position "
              + t
              + " does not attend to key position "
              + u
              + (u > t
                  ? " (causal mask: keys come at or before the query)"
                  : " (sliding window of " + window + " on layer " + attn.layer() + ")"));
    }
  }

  @Override
  public String toString() {
    return "LayerAttribution "
        + "L"
        + attn.layer()
        + " on "
        + positions
        + " positions, input SAE "
        + sae
        + ", "
        + acts;
  }
}
