package dev.saelab.circuits;

import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.sae.FeatureActivations;
import dev.saelab.sae.SaeDictionary;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * How well a layer's QK weight tables predict its real attention scores on a prompt: per head, the
 * Spearman rank correlation between the <em>predicted</em> score of each (query position t, key
 * position u) the query may attend to,
 *
 * <pre>
 * pred_h(t,u) = Σ_i Σ_j a_{t,i} a_{u,j} QK_h[i,j]        (the active feature pairs, table entries)
 * </pre>
 *
 * and the model's real pre-softmax score (after scale, soft-cap and mask: the soft-cap and the
 * scale are monotone and do not change ranks). The prediction uses only the table and the SAE's
 * activations: no norms' per-token scales, no b_dec, error or bias terms. With RoPE a second
 * prediction rotates each side to its position first ({@code (R_t q)·(R_u k)}, the positional table
 * at distance t − u): {@code rhoRope}. Reported per head and per distance band {@code t − u} (0, 1,
 * 2–3, 4–7, …).
 *
 * <p>{@code pred_h = (A·Q_h)·(A·K_g)ᵀ} with A the positions' activations over the union of active
 * features and Q_h, K_g their folded projections ({@link HeadProjections} of just those rows, so
 * q/k norms follow the {@link QkNorm} choice as the tables do).
 */
public final class ScoreValidation {
  /** Fewest pairs for a correlation; fewer give NaN. */
  public static final int MIN_PAIRS = 3;

  /**
   * One head's agreement.
   *
   * @param layer the layer
   * @param head the head
   * @param pairs (query, key) positions compared
   * @param rho Spearman ρ of the position-free prediction and the real score
   * @param rhoRope Spearman ρ of the RoPE-at-position prediction (NaN for models without RoPE)
   */
  public record Head(int layer, int head, int pairs, double rho, double rhoRope) {
    /** "L1H3". */
    public String name() {
      return "L" + layer + "H" + head;
    }
  }

  /**
   * One head's agreement within a band of distances {@code lo ≤ t − u ≤ hi}.
   *
   * @param layer the layer
   * @param head the head
   * @param lo smallest distance
   * @param hi largest distance
   * @param pairs pairs in the band
   * @param rho Spearman ρ (position-free prediction)
   * @param rhoRope Spearman ρ (RoPE prediction) or NaN
   */
  public record Band(int layer, int head, int lo, int hi, int pairs, double rho, double rhoRope) {
    /** "0", "1", "2-3", … */
    public String label() {
      return lo == hi ? Integer.toString(lo) : lo + "-" + hi;
    }
  }

  private final List<Head> heads;
  private final List<Band> bands;
  private final double[][][] predicted;
  private final double[][][] predictedRope;

  private ScoreValidation(
      List<Head> heads, List<Band> bands, double[][][] predicted, double[][][] predictedRope) {
    this.heads = List.copyOf(heads);
    this.bands = List.copyOf(bands);
    this.predicted = predicted;
    this.predictedRope = predictedRope;
  }

  /**
   * Compares layer {@code attn.layer()}'s tables with its real scores.
   *
   * @param attn the layer's attention weights
   * @param sae the SAE on the layer's input stream
   * @param acts its activations on the prompt (positions 0 … T−1)
   * @param scores the recorded {@code hook_attn_scores} {@code [n_heads, T, T]} (masked: −inf)
   * @param qkNorm how the tables pass q/k norms (models without them ignore it)
   * @param skipFirst leave out position 0 as query and as key (the BOS "attention sink")
   */
  public static ScoreValidation of(
      AttentionWeights attn,
      SaeDictionary sae,
      FeatureActivations acts,
      INDArray scores,
      QkNorm qkNorm,
      boolean skipFirst) {
    ModelConfig c = attn.config();
    int t = acts.positions();
    if (scores.rank() != 3
        || scores.size(0) != c.nHeads()
        || scores.size(1) != t
        || scores.size(2) != t) {
      throw new IllegalArgumentException(
          "attention scores "
              + Arrays.toString(scores.shape())
              + ": expected [n_heads="
              + c.nHeads()
              + ", "
              + t
              + ", "
              + t
              + "] for the "
              + t
              + " positions encoded");
    }
    checkStream(sae, attn.layer());
    if (sae.config().dIn() != c.dModel()) {
      throw new IllegalArgumentException(
          "SAE "
              + sae
              + " reads width "
              + sae.config().dIn()
              + ", the model's d_model is "
              + c.dModel());
    }
    TreeSet<Integer> union = new TreeSet<>();
    for (int p = 0; p < t; p++) {
      for (int f : acts.features(p)) {
        union.add(f);
      }
    }
    int n = union.size();
    int dh = c.dHead();
    double[][][] pred = new double[c.nHeads()][t][t];
    double[][][] predRope = null;
    Rope rope =
        c.ropeFor(attn.layer()).present()
            ? Rope.of(c, attn.layer(), Rope.Pairing.ROTATE_HALF)
            : null;
    if (rope != null) {
      predRope = new double[c.nHeads()][t][t];
    }
    if (n > 0) {
      int[] feats = union.stream().mapToInt(Integer::intValue).toArray();
      float[][] a = new float[t][n];
      for (int p = 0; p < t; p++) {
        int[] fs = acts.features(p);
        float[] vs = acts.values(p);
        for (int i = 0; i < fs.length; i++) {
          a[p][Arrays.binarySearch(feats, fs[i])] = vs[i];
        }
      }
      try (INDArray dec = sae.wDec().getRows(feats).dup('c');
          HeadProjections hp = HeadProjections.fromArrays(attn, dec, null, null, false, qkNorm);
          INDArray am = Nd4j.create(a);
          INDArray aq = am.mmul(hp.queries());
          INDArray ak = am.mmul(hp.keys())) {
        double[][] q = aq.toDoubleMatrix();
        double[][] k = ak.toDoubleMatrix();
        for (int h = 0; h < c.nHeads(); h++) {
          int g = c.kvHead(h);
          double[][] qh = new double[t][];
          double[][] kg = new double[t][];
          for (int p = 0; p < t; p++) {
            qh[p] = Arrays.copyOfRange(q[p], h * dh, (h + 1) * dh);
            kg[p] = Arrays.copyOfRange(k[p], g * dh, (g + 1) * dh);
          }
          for (int i = 0; i < t; i++) {
            for (int j = 0; j <= i; j++) {
              pred[h][i][j] = dot(qh[i], kg[j]);
            }
          }
          if (rope != null) {
            double[][] rq = new double[t][];
            double[][] rk = new double[t][];
            for (int p = 0; p < t; p++) {
              rq[p] = rope.rotate(qh[p], p);
              rk[p] = rope.rotate(kg[p], p);
            }
            for (int i = 0; i < t; i++) {
              for (int j = 0; j <= i; j++) {
                predRope[h][i][j] = dot(rq[i], rk[j]);
              }
            }
          }
        }
      }
    }
    double[][][] real = new double[c.nHeads()][][];
    for (int h = 0; h < c.nHeads(); h++) {
      real[h] = scores.slice(h).toDoubleMatrix();
    }
    List<Head> heads = new ArrayList<>();
    List<Band> bands = new ArrayList<>();
    int first = skipFirst ? 1 : 0;
    for (int h = 0; h < c.nHeads(); h++) {
      heads.add(
          new Head(
              attn.layer(),
              h,
              count(real[h], first, 0, Integer.MAX_VALUE),
              rho(pred[h], real[h], first, 0, Integer.MAX_VALUE),
              predRope == null
                  ? Double.NaN
                  : rho(predRope[h], real[h], first, 0, Integer.MAX_VALUE)));
      for (int lo = 0; lo < t; lo = lo == 0 ? 1 : lo * 2) {
        int hi = lo == 0 ? 0 : 2 * lo - 1;
        int m = count(real[h], first, lo, hi);
        if (m == 0) {
          continue;
        }
        bands.add(
            new Band(
                attn.layer(),
                h,
                lo,
                hi,
                m,
                rho(pred[h], real[h], first, lo, hi),
                predRope == null ? Double.NaN : rho(predRope[h], real[h], first, lo, hi)));
      }
    }
    return new ScoreValidation(heads, bands, pred, predRope);
  }

  /**
   * Checks that {@code sae} reads the input stream of attention layer {@code layer} (its hook
   * {@code blocks.L.hook_resid_pre}, or {@code blocks.L−1.hook_resid_post}); SAEs whose files name
   * no hook pass.
   */
  public static void checkStream(SaeDictionary sae, int layer) {
    int reads = sae.config().inputOfLayer();
    if (reads >= 0 && reads != layer) {
      throw new IllegalArgumentException(
          "SAE "
              + sae
              + " reads "
              + sae.config().hookName()
              + ", the input of layer "
              + reads
              + ", not of layer "
              + layer);
    }
  }

  /** Per head, in head order. */
  public List<Head> heads() {
    return heads;
  }

  /** Per head and distance band. */
  public List<Band> bands() {
    return bands;
  }

  /** The mean of the heads' ρ (NaN heads left out). */
  public double meanRho() {
    return heads.stream()
        .mapToDouble(Head::rho)
        .filter(d -> !Double.isNaN(d))
        .average()
        .orElse(Double.NaN);
  }

  /** The mean of the heads' RoPE ρ, NaN without RoPE. */
  public double meanRhoRope() {
    return heads.stream()
        .mapToDouble(Head::rhoRope)
        .filter(d -> !Double.isNaN(d))
        .average()
        .orElse(Double.NaN);
  }

  /** Head {@code h}'s position-free predicted score of query {@code t} and key {@code u ≤ t}. */
  public double predicted(int h, int t, int u) {
    return predicted[h][t][u];
  }

  /** As {@link #predicted}, each side rotated to its position; NaN for models without RoPE. */
  public double predictedRope(int h, int t, int u) {
    return predictedRope == null ? Double.NaN : predictedRope[h][t][u];
  }

  private static double dot(double[] x, double[] y) {
    double s = 0;
    for (int i = 0; i < x.length; i++) {
      s += x[i] * y[i];
    }
    return s;
  }

  private static boolean in(double[][] real, int i, int j, int first, int lo, int hi) {
    int d = i - j;
    return i >= first && j >= first && d >= lo && d <= hi && Double.isFinite(real[i][j]);
  }

  private static int count(double[][] real, int first, int lo, int hi) {
    int m = 0;
    for (int i = 0; i < real.length; i++) {
      for (int j = 0; j <= i; j++) {
        if (in(real, i, j, first, lo, hi)) {
          m++;
        }
      }
    }
    return m;
  }

  private static double rho(double[][] pred, double[][] real, int first, int lo, int hi) {
    int m = count(real, first, lo, hi);
    double[] x = new double[m];
    double[] y = new double[m];
    int n = 0;
    for (int i = 0; i < real.length; i++) {
      for (int j = 0; j <= i; j++) {
        if (in(real, i, j, first, lo, hi)) {
          x[n] = pred[i][j];
          y[n] = real[i][j];
          n++;
        }
      }
    }
    return spearman(x, y);
  }

  /**
   * Spearman's ρ: Pearson's correlation of the ranks, ties given their mean rank; NaN with fewer
   * than {@link #MIN_PAIRS} values or when either side is constant.
   */
  public static double spearman(double[] x, double[] y) {
    if (x.length != y.length) {
      throw new IllegalArgumentException("spearman: " + x.length + " vs " + y.length + " values");
    }
    if (x.length < MIN_PAIRS) {
      return Double.NaN;
    }
    double[] rx = ranks(x);
    double[] ry = ranks(y);
    double mx = Arrays.stream(rx).average().orElse(0);
    double my = Arrays.stream(ry).average().orElse(0);
    double sxy = 0;
    double sxx = 0;
    double syy = 0;
    for (int i = 0; i < rx.length; i++) {
      sxy += (rx[i] - mx) * (ry[i] - my);
      sxx += (rx[i] - mx) * (rx[i] - mx);
      syy += (ry[i] - my) * (ry[i] - my);
    }
    return sxx == 0 || syy == 0 ? Double.NaN : sxy / Math.sqrt(sxx * syy);
  }

  /** 1-based ranks, ties averaged. */
  static double[] ranks(double[] v) {
    Integer[] idx = new Integer[v.length];
    for (int i = 0; i < v.length; i++) {
      idx[i] = i;
    }
    Arrays.sort(idx, (a, b) -> Double.compare(v[a], v[b]));
    double[] r = new double[v.length];
    int i = 0;
    while (i < v.length) {
      int j = i;
      while (j + 1 < v.length && v[idx[j + 1]] == v[idx[i]]) {
        j++;
      }
      double mean = (i + j) / 2.0 + 1;
      for (int m = i; m <= j; m++) {
        r[idx[m]] = mean;
      }
      i = j + 1;
    }
    return r;
  }
}
