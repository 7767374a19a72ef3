package dev.saelab.circuits;

import dev.saelab.io.Backend;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import dev.saelab.model.NormKind;
import dev.saelab.sae.SaeDictionary;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Composition between the heads of a model, from the weights (Elhage et al., "A Mathematical
 * Framework for Transformer Circuits"): Q-, K- and V-composition scores between every head A of a
 * layer l1 and every head B of a later layer l2, with the norms between them folded as SAE Lab's
 * tables fold them; each path split over the SAE features of the stream between the two heads and
 * over B's singular directions (Franco &amp; Crovella's communication channels). See
 * kernel-ext/docs/math.md §19.
 *
 * <p>The folded matrices act on raw residual directions, rows on the right ({@code x·W}):
 *
 * <pre>
 * OV^h = N_in·W_V^g·W_O^h·G_post [·C]      QK^h = N_in·W_Q^h·(N_in·W_K^g)ᵀ      (g: h's KV head)
 * </pre>
 *
 * with {@code N_in} the input norm's linear part ({@code diag(1 + w)} for Gemma, {@code diag(w)}
 * for Llama, {@code C·diag(w)} for LayerNorm, {@code C = I − 11ᵀ/d_model}), {@code G_post} Gemma's
 * post-attention gain on the head's write, {@code C} on the write of a LayerNorm model (every
 * reader of its stream centres it) and q/k-norm gains folded for Gemma 3 and Qwen3 (the proxy form
 * of {@link HeadSvd#qk}). Per-token norm scales (ρ, ρ′, the q/k rms) are left out, as in the
 * tables.
 *
 * <p>Every head's OV and QK circuit is factored once by {@link HeadSvd} ({@code U·Σ·Vᵀ}); a pair's
 * composite is then {@code U_A·Σ_A·(V_Aᵀ·X_B)·Σ_B·Y_Bᵀ}, so its Frobenius norm and every split need
 * only the d_head × d_head core {@code V_Aᵀ·X_B} (one GEMM per pair of layers).
 *
 * <pre>
 * try (Composition c = Composition.of(model)) {
 *   CompositionPath p = c.paths().get(0);                 // the strongest
 *   c.features(p, sae, 10).top();                         // which SAE features carry it
 *   c.directions(p).shares();                             // share per singular direction of B
 * }
 * </pre>
 */
public final class Composition implements AutoCloseable {
  /**
   * One SAE feature's part of a path: the rank-one composite {@code M_f = (OV^A·e_fᵀ)(d_f·W_B)}
   * through feature f (A writes onto f's encoder column, B reads f's decoder row).
   *
   * @param feature the feature index
   * @param strength {@code ‖M_f‖_F / (‖OV^A‖_F·‖W_B‖_F) = ‖OV^A·e_fᵀ‖·‖d_f·W_B‖ / (…)}, the
   *     composition score of the path through f alone
   * @param share {@code ⟨M_f, M⟩_F / ‖M‖_F²}: f's signed part of the composite (over every feature
   *     these add up to {@link Features#featureShare()})
   * @param write {@code ‖OV^A·e_fᵀ‖}: how strongly A writes onto f
   * @param read {@code ‖d_f·W_B‖}: how strongly B reads f
   */
  public record Feature(int feature, double strength, double share, double write, double read) {}

  /**
   * A path split over the features of an SAE on a stream between its two heads.
   *
   * @param path the path
   * @param top the features with the largest strength, strongest first (ties: smaller index)
   * @param featureShare {@code Σ_f share_f} over every feature: the part of the composite that
   *     passes through the SAE's linear map {@code W_enc·W_dec}; the rest ({@link
   *     #remainderShare()}) is what that map does not reproduce
   */
  public record Features(CompositionPath path, List<Feature> top, double featureShare) {
    /** {@code 1 − featureShare}. */
    public double remainderShare() {
      return 1 - featureShare;
    }
  }

  /**
   * A path split over the singular directions of the later head's circuit {@code W_B = Σ_k σ_k x_kᵀ
   * y_k} (QK's query-side {@code u_k} for Q-composition, key-side {@code v_k} for K, OV's
   * value-side {@code u_k} for V): {@code M_k = σ_k (OV^A·x_kᵀ) y_k}; the M_k are orthogonal, so
   * the shares {@code ‖M_k‖_F² / ‖M‖_F²} add up to 1.
   *
   * @param path the path
   * @param sigma B's singular values, largest first
   * @param shares direction k's share, in the order of sigma
   */
  public record Directions(CompositionPath path, double[] sigma, double[] shares) {
    /** How many directions, largest share first, carry {@code share} (e.g. 0.9) of the total. */
    public int directionsFor(double share) {
      return Shares.countCarrying(shares, share);
    }

    /** Direction indices by decreasing share (ties: smaller k first). */
    public int[] order() {
      Integer[] idx = new Integer[shares.length];
      for (int k = 0; k < idx.length; k++) {
        idx[k] = k;
      }
      Arrays.sort(
          idx, Comparator.comparingDouble((Integer k) -> -shares[k]).thenComparingInt(k -> k));
      return Arrays.stream(idx).mapToInt(Integer::intValue).toArray();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Directions d
          && path.equals(d.path)
          && Arrays.equals(sigma, d.sigma)
          && Arrays.equals(shares, d.shares);
    }

    @Override
    public int hashCode() {
      return path.hashCode() * 31 + Arrays.hashCode(shares);
    }

    @Override
    public String toString() {
      return "Directions " + path + ": " + directionsFor(0.9) + " of " + shares.length + " for 90%";
    }
  }

  /** One layer's heads, factored: the stacked singular vectors, {@code [d_model, n_heads·r]}. */
  private static final class LayerFactors implements AutoCloseable {
    final double[][] sigmaOv;
    final double[][] sigmaQk;
    final INDArray ovRight; // V of OV^h: what A's write lands on (source side)
    final INDArray ovLeft; // U of OV^h: B's value side
    final INDArray qkLeft; // U of QK^h: B's query side
    final INDArray qkRight; // V of QK^h: B's key side

    LayerFactors(AttentionWeights attn) {
      ModelConfig c = attn.config();
      int nh = c.nHeads();
      int r = c.dHead();
      int d = c.dModel();
      boolean centre = attn.inputNorm().kind() == NormKind.LAYER;
      sigmaOv = new double[nh][];
      sigmaQk = new double[nh][];
      double[][] ovR = new double[d][nh * r];
      double[][] ovL = new double[d][nh * r];
      double[][] qkL = new double[d][nh * r];
      double[][] qkR = new double[d][nh * r];
      for (int h = 0; h < nh; h++) {
        HeadSvd ov = HeadSvd.ov(attn, h, centre);
        HeadSvd qk = HeadSvd.qk(attn, h, false);
        sigmaOv[h] = ov.sigma();
        sigmaQk[h] = qk.sigma();
        for (int k = 0; k < r; k++) {
          put(ovR, h * r + k, ov.v(k));
          put(ovL, h * r + k, ov.u(k));
          put(qkL, h * r + k, qk.u(k));
          put(qkR, h * r + k, qk.v(k));
        }
      }
      ovRight = Nd4j.createFromArray(ovR);
      ovLeft = Nd4j.createFromArray(ovL);
      qkLeft = Nd4j.createFromArray(qkL);
      qkRight = Nd4j.createFromArray(qkR);
    }

    private static void put(double[][] m, int col, double[] v) {
      for (int i = 0; i < v.length; i++) {
        m[i][col] = v[i];
      }
    }

    /** B's reading basis X_B for {@code kind}. */
    INDArray reading(CompositionPath.Kind kind) {
      return switch (kind) {
        case Q -> qkLeft;
        case K -> qkRight;
        case V -> ovLeft;
      };
    }

    double[][] sigmaB(CompositionPath.Kind kind) {
      return kind == CompositionPath.Kind.V ? sigmaOv : sigmaQk;
    }

    @Override
    public void close() {
      ovRight.close();
      ovLeft.close();
      qkLeft.close();
      qkRight.close();
    }
  }

  private final ModelConfig config;
  private final int[] layers;
  private final Map<Integer, LayerFactors> factors;
  private final List<CompositionPath> paths;

  private Composition(
      ModelConfig config,
      int[] layers,
      Map<Integer, LayerFactors> factors,
      List<CompositionPath> paths) {
    this.config = config;
    this.layers = layers;
    this.factors = factors;
    this.paths = paths;
  }

  /** Every head pair of every layer of {@code model}. */
  public static Composition of(ModelWeights model) {
    int[] all = new int[model.config().nLayers()];
    Arrays.setAll(all, i -> i);
    return of(model, all);
  }

  /**
   * The head pairs between the given layers (at least two; sorted, duplicates dropped): A in one of
   * them, B in a later one.
   */
  public static Composition of(ModelWeights model, int... layers) {
    ModelConfig c = model.config();
    int[] ls = Arrays.stream(layers).distinct().sorted().toArray();
    for (int l : ls) {
      if (l < 0 || l >= c.nLayers()) {
        throw new IllegalArgumentException(
            "layer " + l + ": the model has layers 0.." + (c.nLayers() - 1));
      }
    }
    if (ls.length < 2) {
      throw new IllegalArgumentException(
          "composition needs at least two layers (given " + Arrays.toString(ls) + ")");
    }
    Backend.init();
    Map<Integer, LayerFactors> f = new LinkedHashMap<>();
    try {
      for (int l : ls) {
        f.put(l, new LayerFactors(model.attention(l)));
      }
      List<CompositionPath> ps = new ArrayList<>();
      for (int i = 0; i < ls.length; i++) {
        for (int j = i + 1; j < ls.length; j++) {
          for (CompositionPath.Kind kind : CompositionPath.Kind.values()) {
            scores(c, ls[i], f.get(ls[i]), ls[j], f.get(ls[j]), kind, ps);
          }
        }
      }
      ps.sort(ORDER);
      return new Composition(c, ls, f, List.copyOf(ps));
    } catch (RuntimeException e) {
      f.values().forEach(LayerFactors::close);
      throw e;
    }
  }

  /** Score (descending), then source layer, head, target layer, head, kind. */
  private static final Comparator<CompositionPath> ORDER =
      Comparator.comparingDouble((CompositionPath p) -> -p.score())
          .thenComparingInt(CompositionPath::sourceLayer)
          .thenComparingInt(CompositionPath::sourceHead)
          .thenComparingInt(CompositionPath::targetLayer)
          .thenComparingInt(CompositionPath::targetHead)
          .thenComparing(CompositionPath::kind);

  private static void scores(
      ModelConfig c,
      int l1,
      LayerFactors a,
      int l2,
      LayerFactors b,
      CompositionPath.Kind kind,
      List<CompositionPath> out) {
    int nh = c.nHeads();
    int r = c.dHead();
    double[][] core;
    try (INDArray m = a.ovRight.transpose().mmul(b.reading(kind))) {
      core = m.toDoubleMatrix();
    }
    double[][] sb = b.sigmaB(kind);
    for (int h1 = 0; h1 < nh; h1++) {
      double[] sa = a.sigmaOv[h1];
      for (int h2 = 0; h2 < nh; h2++) {
        double num = 0;
        for (int j = 0; j < r; j++) {
          double sj = sa[j] * sa[j];
          for (int k = 0; k < r; k++) {
            double x = core[h1 * r + j][h2 * r + k] * sb[h2][k];
            num += sj * x * x;
          }
        }
        double na = norm(sa);
        double nb = norm(sb[h2]);
        double nm = Math.sqrt(num);
        double score = na == 0 || nb == 0 ? 0 : nm / (na * nb);
        out.add(new CompositionPath(l1, h1, l2, h2, kind, score, nm, na, nb));
      }
    }
  }

  private static double norm(double[] s) {
    double t = 0;
    for (double x : s) {
      t += x * x;
    }
    return Math.sqrt(t);
  }

  /** The model's config. */
  public ModelConfig config() {
    return config;
  }

  /** The layers, ascending. */
  public int[] layers() {
    return layers.clone();
  }

  /**
   * Every (A, B, kind), strongest first (ties: source layer, head, target layer, head, kind Q, K,
   * V).
   */
  public List<CompositionPath> paths() {
    return paths;
  }

  /** The {@code k} strongest paths of the given kinds. */
  public List<CompositionPath> strongest(int k, Set<CompositionPath.Kind> kinds) {
    return paths.stream().filter(p -> kinds.contains(p.kind())).limit(k).toList();
  }

  /** The {@code k} strongest paths of any kind. */
  public List<CompositionPath> strongest(int k) {
    return strongest(k, EnumSet.allOf(CompositionPath.Kind.class));
  }

  /** The path from head {@code h1} of layer {@code l1} to head {@code h2} of layer {@code l2}. */
  public CompositionPath path(int l1, int h1, int l2, int h2, CompositionPath.Kind kind) {
    return paths.stream()
        .filter(
            p ->
                p.sourceLayer() == l1
                    && p.sourceHead() == h1
                    && p.targetLayer() == l2
                    && p.targetHead() == h2
                    && p.kind() == kind)
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "no composition path "
                        + kind
                        + " L"
                        + l1
                        + "H"
                        + h1
                        + " -> L"
                        + l2
                        + "H"
                        + h2
                        + " (layers "
                        + Arrays.toString(layers)
                        + ", the source before the target)"));
  }

  /** Head names of the layers, {@code L0H0, L0H1, …}, in layer then head order. */
  public List<String> headNames() {
    List<String> n = new ArrayList<>();
    for (int l : layers) {
      for (int h = 0; h < config.nHeads(); h++) {
        n.add("L" + l + "H" + h);
      }
    }
    return n;
  }

  /**
   * The strongest score of any kind between every pair of heads, {@code [target][source]} indexed
   * as {@link #headNames()}; 0 where the source is not in an earlier layer.
   */
  public double[][] strongestScores() {
    int nh = config.nHeads();
    int n = layers.length * nh;
    double[][] z = new double[n][n];
    for (CompositionPath p : paths) {
      int s = index(p.sourceLayer()) * nh + p.sourceHead();
      int t = index(p.targetLayer()) * nh + p.targetHead();
      z[t][s] = Math.max(z[t][s], p.score());
    }
    return z;
  }

  private int index(int layer) {
    return Arrays.binarySearch(layers, layer);
  }

  private INDArray block(INDArray stacked, int head) {
    int r = config.dHead();
    return stacked.get(
        NDArrayIndex.all(), NDArrayIndex.interval((long) head * r, (long) (head + 1) * r));
  }

  private double[][] core(CompositionPath p) {
    LayerFactors a = factors(p.sourceLayer());
    LayerFactors b = factors(p.targetLayer());
    try (INDArray m =
        block(a.ovRight, p.sourceHead())
            .transpose()
            .mmul(block(b.reading(p.kind()), p.targetHead()))) {
      return m.toDoubleMatrix();
    }
  }

  private LayerFactors factors(int layer) {
    LayerFactors f = factors.get(layer);
    if (f == null) {
      throw new IllegalArgumentException(
          "layer " + layer + " is not among the layers " + Arrays.toString(layers));
    }
    return f;
  }

  /** {@code p} split over the singular directions of its later head's circuit. */
  public Directions directions(CompositionPath p) {
    double[][] core = core(p);
    double[] sa = factors(p.sourceLayer()).sigmaOv[p.sourceHead()];
    double[] sb = factors(p.targetLayer()).sigmaB(p.kind())[p.targetHead()];
    int r = sb.length;
    double[] part = new double[r];
    double total = 0;
    for (int k = 0; k < r; k++) {
      double t = 0;
      for (int j = 0; j < sa.length; j++) {
        double x = sa[j] * core[j][k];
        t += x * x;
      }
      part[k] = sb[k] * sb[k] * t;
      total += part[k];
    }
    for (int k = 0; k < r; k++) {
      part[k] = total == 0 ? 0 : part[k] / total;
    }
    return new Directions(p, sb.clone(), part);
  }

  /**
   * {@code p} split over the features of {@code sae}, which must read a residual stream between the
   * two heads (the input of layer s with l1 &lt; s ≤ l2: A's write is in it, and B reads the stream
   * it feeds): the {@code top} features by strength and the summed share of all of them.
   */
  public Features features(CompositionPath p, SaeDictionary sae, int top) {
    if (sae.config().dIn() != config.dModel()) {
      throw new IllegalArgumentException(
          sae.path()
              + ": an SAE of width "
              + sae.config().dIn()
              + ", the model's residual stream has d_model="
              + config.dModel());
    }
    int s = sae.config().inputOfLayer();
    if (s >= 0 && !(p.sourceLayer() < s && s <= p.targetLayer())) {
      throw new IllegalArgumentException(
          sae.path()
              + ": the SAE reads the input of layer "
              + s
              + ", not a stream between "
              + p.source()
              + " and "
              + p.target()
              + " (needs "
              + p.sourceLayer()
              + " < "
              + s
              + " <= "
              + p.targetLayer()
              + ")");
    }
    double[] sa = factors(p.sourceLayer()).sigmaOv[p.sourceHead()];
    double[] sb = factors(p.targetLayer()).sigmaB(p.kind())[p.targetHead()];
    double[][] core = core(p);
    int r = sb.length;
    double[][] kmat = new double[r][r];
    for (int j = 0; j < r; j++) {
      for (int k = 0; k < r; k++) {
        kmat[j][k] = sa[j] * sa[j] * core[j][k] * sb[k] * sb[k];
      }
    }
    double[][] alpha;
    double[][] beta;
    try (INDArray va = block(factors(p.sourceLayer()).ovRight, p.sourceHead()).dup();
        INDArray xb = block(factors(p.targetLayer()).reading(p.kind()), p.targetHead()).dup()) {
      if (sae.config().centeredStream()) {
        // the SAE reads x·C: (x·C)·e = x·(C·e), so A's write is read through centred columns
        try (INDArray mean = va.mean(0)) {
          va.subiRowVector(mean);
        }
      }
      alpha = project(sae.wEnc().transpose(), va);
      beta = project(sae.wDec(), xb);
    }
    double m2 = p.compositeNorm() * p.compositeNorm();
    double denom = p.sourceNorm() * p.targetNorm();
    List<Feature> all = new ArrayList<>(alpha.length);
    double sum = 0;
    for (int f = 0; f < alpha.length; f++) {
      double a2 = 0;
      double b2 = 0;
      double inner = 0;
      for (int j = 0; j < r; j++) {
        double x = sa[j] * alpha[f][j];
        a2 += x * x;
        double y = sb[j] * beta[f][j];
        b2 += y * y;
        double row = 0;
        for (int k = 0; k < r; k++) {
          row += kmat[j][k] * beta[f][k];
        }
        inner += alpha[f][j] * row;
      }
      double share = m2 == 0 ? 0 : inner / m2;
      sum += share;
      double w = Math.sqrt(a2);
      double rd = Math.sqrt(b2);
      all.add(new Feature(f, denom == 0 ? 0 : w * rd / denom, share, w, rd));
    }
    all.sort(
        Comparator.comparingDouble((Feature x) -> -x.strength())
            .thenComparingInt(Feature::feature));
    return new Features(p, List.copyOf(all.subList(0, Math.min(top, all.size()))), sum);
  }

  /** {@code rows [n, d]·basis [d, r]} in double, in blocks of rows. */
  private static double[][] project(INDArray rows, INDArray basis) {
    int n = rows.rows();
    double[][] out = new double[n][];
    for (int r0 = 0; r0 < n; r0 += 2048) {
      int r1 = Math.min(n, r0 + 2048);
      try (INDArray blk =
              rows.get(NDArrayIndex.interval(r0, r1), NDArrayIndex.all()).castTo(DataType.DOUBLE);
          INDArray prod = blk.mmul(basis)) {
        double[][] b = prod.toDoubleMatrix();
        System.arraycopy(b, 0, out, r0, r1 - r0);
      }
    }
    return out;
  }

  /** Frees the factored heads. */
  @Override
  public void close() {
    factors.values().forEach(LayerFactors::close);
  }

  /** One line: layers, pairs and the strongest path. */
  @Override
  public String toString() {
    return "Composition of "
        + config.modelType()
        + " layers "
        + Arrays.toString(layers)
        + ": "
        + paths.size()
        + " (A, B, kind) paths"
        + (paths.isEmpty() ? "" : ", strongest " + paths.get(0));
  }
}
