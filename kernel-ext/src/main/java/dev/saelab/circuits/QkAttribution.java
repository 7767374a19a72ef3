package dev.saelab.circuits;

import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.RankBy;
import dev.saelab.model.ModelConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * One head's attention score from a query position to a key position, split exactly into terms
 * (kernel-ext/docs/math.md §16): with the input norm's scale {@code ρ} (and, for q_norm/k_norm
 * models, each head vector's rms) frozen at their values on the prompt, the query is a sum over the
 * parts of the query row (each active feature, b_dec, the SAE's error, the bias), the key likewise,
 * and the score {@code scale·q·k} is the sum of {@code scale·q_α·k_β} over every pair of parts.
 * Feature × feature terms are {@code factor·QK^Δ_h[i,j]} with the positional table entry at
 * distance {@code Δ = t − u}.
 *
 * <p>Made by {@link LayerAttribution#qk}. Immutable.
 */
public final class QkAttribution {
  /**
   * One (query feature, key feature) term.
   *
   * @param queryFeature the feature active at the query position
   * @param keyFeature the feature active at the key position
   * @param queryActivation its activation {@code a_{t,i}}
   * @param keyActivation {@code a_{u,j}}
   * @param term its part of the score (after the query scale, before the soft-cap)
   * @param tableValue the table entry {@code QK^Δ_h[i,j] = (R(Δ)·q_i)·k_j} (unscaled; for q/k-norm
   *     models with the gains only, {@code (g_q⊙q_i)·(g_k⊙k_j)}, the rms being in the factor)
   * @param factor {@code scale·a_{t,i}·a_{u,j}/(ρ_t·ρ_u)} (divided by both head rms for q/k-norm
   *     models), so that {@code term = factor·tableValue}
   */
  public record Pair(
      int queryFeature,
      int keyFeature,
      double queryActivation,
      double keyActivation,
      double term,
      double tableValue,
      double factor) {}

  private static final int N = AttributionPart.values().length;

  private final int layer;
  private final int head;
  private final int queryPos;
  private final int keyPos;
  private final double scale;
  private final double modelScore;
  private final double cappedScore;
  private final double[][] cells;
  private final int[] qf;
  private final int[] kf;
  private final float[] aq;
  private final float[] ak;
  private final double[][] table;
  private final double[] coefQ;
  private final double[] coefK;
  private final double rhoQuery;
  private final double rhoKey;
  private final double rmsQuery;
  private final double rmsKey;
  private final boolean qkNorm;
  private Integer[] order;

  private QkAttribution(
      int layer,
      int head,
      int queryPos,
      int keyPos,
      double scale,
      double modelScore,
      double cappedScore,
      double[][] cells,
      int[] qf,
      int[] kf,
      float[] aq,
      float[] ak,
      double[][] table,
      double[] coefQ,
      double[] coefK,
      double[] rhoRms,
      boolean qkNorm) {
    this.layer = layer;
    this.head = head;
    this.queryPos = queryPos;
    this.keyPos = keyPos;
    this.scale = scale;
    this.modelScore = modelScore;
    this.cappedScore = cappedScore;
    this.cells = cells;
    this.qf = qf;
    this.kf = kf;
    this.aq = aq;
    this.ak = ak;
    this.table = table;
    this.coefQ = coefQ;
    this.coefK = coefK;
    this.rhoQuery = rhoRms[0];
    this.rhoKey = rhoRms[1];
    this.rmsQuery = rhoRms[2];
    this.rmsKey = rhoRms[3];
    this.qkNorm = qkNorm;
  }

  static QkAttribution compute(LayerAttribution la, int h, int t, int u) {
    ModelConfig c = la.config();
    int g = c.kvHead(h);
    int delta = t - u;
    double[] gq = gain(la.attention().qNorm());
    double[] gk = gain(la.attention().kNorm());
    double rq = gq == null ? 1 : la.headRms(la.qPre(t, h));
    double rk = gk == null ? 1 : la.headRms(la.kPre(u, g));
    double rhoT = la.rho(t);
    double rhoU = la.rho(u);
    Rope rope = la.rope();
    int[] qf = la.activations().features(t);
    float[] aq = la.activations().values(t);
    int[] kf = la.activations().features(u);
    float[] ak = la.activations().values(u);
    // unit (table) vectors: gains applied, query rotated by Δ
    double[][] tq = la.featureProjections(LayerAttribution.Side.Q, qf, h);
    double[][] tk = la.featureProjections(LayerAttribution.Side.K, kf, g);
    for (int i = 0; i < tq.length; i++) {
      tq[i] = rotate(rope, mul(tq[i], gq, 1), delta);
    }
    for (int j = 0; j < tk.length; j++) {
      tk[j] = mul(tk[j], gk, 1);
    }
    double[] coefQ = new double[qf.length];
    double[] coefK = new double[kf.length];
    for (int i = 0; i < qf.length; i++) {
      coefQ[i] = aq[i] / (rhoT * rq);
    }
    for (int j = 0; j < kf.length; j++) {
      coefK[j] = ak[j] / (rhoU * rk);
    }
    // the four parts of each side, in score space
    double[][] qs = new double[N][];
    double[][] ks = new double[N][];
    qs[AttributionPart.FEATURES.ordinal()] = combine(tq, coefQ, c.dHead());
    ks[AttributionPart.FEATURES.ordinal()] = combine(tk, coefK, c.dHead());
    qs[AttributionPart.B_DEC.ordinal()] =
        rotate(rope, mul(la.bDecProjection(LayerAttribution.Side.Q, h), gq, rhoT * rq), delta);
    ks[AttributionPart.B_DEC.ordinal()] =
        mul(la.bDecProjection(LayerAttribution.Side.K, g), gk, rhoU * rk);
    qs[AttributionPart.ERROR.ordinal()] =
        rotate(rope, mul(la.errorProjection(LayerAttribution.Side.Q, t, h), gq, rhoT * rq), delta);
    ks[AttributionPart.ERROR.ordinal()] =
        mul(la.errorProjection(LayerAttribution.Side.K, u, g), gk, rhoU * rk);
    qs[AttributionPart.BIAS.ordinal()] =
        rotate(rope, mul(la.bias(LayerAttribution.Side.Q, h), gq, rq), delta);
    ks[AttributionPart.BIAS.ordinal()] = mul(la.bias(LayerAttribution.Side.K, g), gk, rk);
    double scale = c.queryScale();
    double[][] cells = new double[N][N];
    for (int a = 0; a < N; a++) {
      for (int b = 0; b < N; b++) {
        cells[a][b] = scale * LayerAttribution.dot(qs[a], ks[b]);
      }
    }
    double[][] table = new double[qf.length][kf.length];
    double ff = 0;
    for (int i = 0; i < qf.length; i++) {
      for (int j = 0; j < kf.length; j++) {
        table[i][j] = LayerAttribution.dot(tq[i], tk[j]);
        ff += scale * coefQ[i] * coefK[j] * table[i][j];
      }
    }
    int f = AttributionPart.FEATURES.ordinal();
    cells[f][f] = ff;
    return new QkAttribution(
        la.layer(),
        h,
        t,
        u,
        scale,
        la.score(h, t, u),
        la.cappedScore(h, t, u),
        cells,
        qf,
        kf,
        aq,
        ak,
        table,
        coefQ,
        coefK,
        new double[] {rhoT, rhoU, rq, rk},
        gq != null);
  }

  private static double[] gain(dev.saelab.model.Norm n) {
    return n == null ? null : n.gain().castTo(DataType.DOUBLE).toDoubleVector();
  }

  /** {@code v ⊙ g / div} (no gain when g is null). */
  private static double[] mul(double[] v, double[] g, double div) {
    double[] y = new double[v.length];
    for (int e = 0; e < v.length; e++) {
      y[e] = v[e] * (g == null ? 1 : g[e]) / div;
    }
    return y;
  }

  private static double[] rotate(Rope rope, double[] v, int delta) {
    return rope == null || delta == 0 ? v : rope.rotate(v, delta);
  }

  private static double[] combine(double[][] rows, double[] coef, int width) {
    double[] s = new double[width];
    for (int i = 0; i < rows.length; i++) {
      for (int e = 0; e < width; e++) {
        s[e] += coef[i] * rows[i][e];
      }
    }
    return s;
  }

  // ---- the result

  /** The layer. */
  public int layer() {
    return layer;
  }

  /** The query head. */
  public int head() {
    return head;
  }

  /** The head as "L1H1". */
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

  /** {@code Δ = t − u}, the distance of the positional table. */
  public int distance() {
    return queryPos - keyPos;
  }

  /** The query scale applied to every term. */
  public double scale() {
    return scale;
  }

  /**
   * The model's own score on these rows (after the query scale, before the soft-cap), computed
   * directly in double from the rows without the SAE.
   */
  public double modelScore() {
    return modelScore;
  }

  /**
   * The score after the soft-cap (Gemma 2's {@code cap·tanh(s/cap)}; the same as {@link
   * #modelScore} without one), as {@code hook_attn_scores} records it.
   */
  public double cappedScore() {
    return cappedScore;
  }

  /** The sum of every term; equals {@link #modelScore} up to double rounding. */
  public double total() {
    double s = 0;
    for (double[] r : cells) {
      for (double v : r) {
        s += v;
      }
    }
    return s;
  }

  /** The sum of the terms between a query part and a key part. */
  public double term(AttributionPart query, AttributionPart key) {
    return cells[query.ordinal()][key.ordinal()];
  }

  /** The 4 × 4 terms by (query part, key part), in {@link AttributionPart} order (a copy). */
  public double[][] terms() {
    double[][] c = new double[N][];
    for (int a = 0; a < N; a++) {
      c[a] = cells[a].clone();
    }
    return c;
  }

  /** Query features × key features: the sum of every {@link Pair}. */
  public double featurePairs() {
    return term(AttributionPart.FEATURES, AttributionPart.FEATURES);
  }

  /** Query features × key error. */
  public double featuresError() {
    return term(AttributionPart.FEATURES, AttributionPart.ERROR);
  }

  /** Query error × key features. */
  public double errorFeatures() {
    return term(AttributionPart.ERROR, AttributionPart.FEATURES);
  }

  /** Query error × key error. */
  public double errorError() {
    return term(AttributionPart.ERROR, AttributionPart.ERROR);
  }

  /** Every term with b_dec on one side or both and no bias. */
  public double bDecTerms() {
    double s = 0;
    for (AttributionPart a : AttributionPart.values()) {
      for (AttributionPart b : AttributionPart.values()) {
        boolean dec = a == AttributionPart.B_DEC || b == AttributionPart.B_DEC;
        boolean bias = a == AttributionPart.BIAS || b == AttributionPart.BIAS;
        if (dec && !bias) {
          s += term(a, b);
        }
      }
    }
    return s;
  }

  /** Every term with the bias on one side or both. */
  public double biasTerms() {
    double s = 0;
    for (AttributionPart a : AttributionPart.values()) {
      for (AttributionPart b : AttributionPart.values()) {
        if (a == AttributionPart.BIAS || b == AttributionPart.BIAS) {
          s += term(a, b);
        }
      }
    }
    return s;
  }

  /** Number of (query feature, key feature) pairs: active at t × active at u. */
  public int pairCount() {
    return qf.length * kf.length;
  }

  /**
   * The {@code k} pairs with the largest |term|, best first (ties: query feature, then key
   * feature).
   */
  public List<Pair> pairs(int k) {
    Integer[] o = order();
    List<Pair> out = new ArrayList<>();
    for (int r = 0; r < Math.min(k, o.length); r++) {
      out.add(pair(o[r]));
    }
    return out;
  }

  /** The pair of two features, or null when either is inactive at its position. */
  public Pair pair(int queryFeature, int keyFeature) {
    int i = Arrays.binarySearch(qf, queryFeature);
    int j = Arrays.binarySearch(kf, keyFeature);
    return i < 0 || j < 0 ? null : pair(i * kf.length + j);
  }

  /** The share of {@link #modelScore} that the top {@code k} pairs' terms make up. */
  public double share(int k) {
    double s = 0;
    for (Pair p : pairs(k)) {
      s += p.term();
    }
    return s / modelScore;
  }

  /**
   * The top {@code k} pairs as a QK {@link CircuitTable} (rows query features, columns key
   * features, values the terms, ranked by |term|), for the API's feature tables.
   */
  public CircuitTable table(int k) {
    List<FeatureEdge> edges = new ArrayList<>();
    for (Pair p : pairs(k)) {
      edges.add(new FeatureEdge(p.queryFeature(), p.keyFeature(), (float) p.term()));
    }
    return new CircuitTable(CircuitKind.QK, layer, head, RankBy.ABS, scale, edges);
  }

  /** {@code ρ_t}, the input norm's scale at the query. */
  public double rhoQuery() {
    return rhoQuery;
  }

  /** {@code ρ_u}, the input norm's scale at the key. */
  public double rhoKey() {
    return rhoKey;
  }

  /** The rms of the model's query (q_norm's scale; 1 without q_norm). */
  public double rmsQuery() {
    return rmsQuery;
  }

  /** The rms of the model's key (k_norm's scale; 1 without k_norm). */
  public double rmsKey() {
    return rmsKey;
  }

  private Pair pair(int idx) {
    int i = idx / kf.length;
    int j = idx % kf.length;
    double factor = scale * coefQ[i] * coefK[j];
    return new Pair(qf[i], kf[j], aq[i], ak[j], factor * table[i][j], table[i][j], factor);
  }

  private synchronized Integer[] order() {
    if (order == null) {
      int n = pairCount();
      double[] abs = new double[n];
      Integer[] o = new Integer[n];
      for (int idx = 0; idx < n; idx++) {
        int i = idx / kf.length;
        int j = idx % kf.length;
        abs[idx] = Math.abs(scale * coefQ[i] * coefK[j] * table[i][j]);
        o[idx] = idx;
      }
      // index order is (query feature, key feature) ascending, so a stable sort breaks ties by it
      Arrays.sort(o, Comparator.comparingDouble((Integer idx) -> -abs[idx]));
      order = o;
    }
    return order;
  }

  /** A few lines: the head and positions, the score, the grouped terms and the top 5 pairs. */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "QK attribution %s, query %d -> key %d (Δ %d): score %.6g (model %.6g%s), %d feature"
                + " pairs%s%n",
            headName(),
            queryPos,
            keyPos,
            distance(),
            total(),
            modelScore,
            cappedScore != modelScore
                ? String.format(Locale.ROOT, ", soft-capped %.6g", cappedScore)
                : "",
            pairCount(),
            qkNorm ? "; q/k-norm rms frozen" : ""));
    sb.append(
        String.format(
            Locale.ROOT,
            "  features×features %.6g, features×error %.6g, error×features %.6g, error×error %.6g,"
                + " b_dec %.6g, bias %.6g%n",
            featurePairs(),
            featuresError(),
            errorFeatures(),
            errorError(),
            bDecTerms(),
            biasTerms()));
    for (Pair p : pairs(5)) {
      sb.append(
          String.format(
              Locale.ROOT,
              "  %6d -> %6d  term %12.6g  (a %.4g × %.4g, table %.6g)%n",
              p.queryFeature(),
              p.keyFeature(),
              p.term(),
              p.queryActivation(),
              p.keyActivation(),
              p.tableValue()));
    }
    return sb.toString();
  }
}
