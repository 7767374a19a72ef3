package dev.saelab.circuits;

import dev.saelab.io.Backend;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.Norm;
import dev.saelab.model.NormKind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Singular value decomposition of one head's QK or OV circuit as a bilinear form on residual
 * directions (Franco &amp; Crovella, "Sparse Attention Decomposition Applied to Circuit Tracing",
 * kernel-ext/docs/math.md §11): {@code W = A·Bᵀ = U·Σ·Vᵀ}, rank d_head.
 *
 * <ul>
 *   <li>QK: {@code A = N_in·W_Q^h}, {@code B = N_in·W_K^g}, so {@code x_dest·W·x_srcᵀ} is the
 *       head's score;
 *   <li>OV: {@code A = N_in·W_V^g}, {@code B = N_out·W_O^hᵀ}, so {@code x·W·eᵀ} is what value
 *       direction x writes onto output-SAE encoder direction e.
 * </ul>
 *
 * {@code N_in} folds the input norm's linear part into the weights (Gemma: {@code diag(1+w)};
 * LayerNorm: centring then {@code diag(w)}), {@code N_out} Gemma's post-attention gain (and
 * centring for SAEs trained on the centred GPT-2 stream). So a feature's loading on direction k is
 * its raw decoder row (or encoder column) dotted with {@code u_k} or {@code v_k}, and the
 * per-direction contributions {@code σ_k (d_i·u_k)(d_j·v_k)} of a table entry sum exactly to the
 * entry. The bias-augmented QK form of the paper appends {@code b_Q} and {@code b_K} (with
 * LayerNorm's bias folded in) as an extra row of A and B, acting on {@code [x; 1]}.
 *
 * <p>Computed from the factors: {@code A = Q_a R_a}, {@code B = Q_b R_b} (QR), SVD of the d_head ×
 * d_head core {@code R_a R_bᵀ = U_c Σ V_cᵀ}, then {@code U = Q_a U_c}, {@code V = Q_b V_c}; all in
 * double precision. Signs are fixed so that the largest-magnitude entry of every {@code u_k} is
 * positive.
 */
public final class HeadSvd {
  /** Which side of a circuit a feature loads on. */
  public enum Side {
    /** QK left: the destination (query) side, {@code u_k}. */
    QUERY,
    /** QK right: the source (key) side, {@code v_k}. */
    KEY,
    /** OV left: the value side, {@code u_k}. */
    VALUE,
    /** OV right: the output side, {@code v_k}. */
    OUTPUT;

    /** {@code query}, {@code key}, {@code value} or {@code output}. */
    public String id() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Parses {@code query}, {@code key}, {@code value} or {@code output} (any case). */
    public static Side parse(String s) {
      return switch (s.strip().toLowerCase(java.util.Locale.ROOT)) {
        case "query" -> QUERY;
        case "key" -> KEY;
        case "value" -> VALUE;
        case "output" -> OUTPUT;
        default ->
            throw new IllegalArgumentException(
                "side " + s + ": expected query, key, value or output");
      };
    }

    boolean left() {
      return this == QUERY || this == VALUE;
    }

    /** The circuit this side belongs to. */
    public CircuitKind kind() {
      return this == QUERY || this == KEY ? CircuitKind.QK : CircuitKind.OV;
    }
  }

  /**
   * One direction's share of a table entry.
   *
   * @param k singular direction (0 = largest σ)
   * @param sigma its singular value
   * @param value {@code σ_k (x·u_k)(y·v_k)}
   */
  public record Contribution(int k, double sigma, double value) {}

  /**
   * A table entry split over singular directions, largest |contribution| first.
   *
   * @param total the entry (sum of all contributions)
   * @param terms every direction's contribution, by decreasing |value|
   */
  public record Split(double total, List<Contribution> terms) {
    /**
     * How many directions (largest first) carry {@code share} of {@code Σ|contribution|}, e.g. 0.9.
     */
    public int directionsFor(double share) {
      return Shares.countCarrying(terms.stream().mapToDouble(Contribution::value).toArray(), share);
    }
  }

  private final CircuitKind kind;
  private final int layer;
  private final int head;
  private final boolean augmented;
  private final double[] sigma;
  private final double[][] u;
  private final double[][] v;

  private HeadSvd(
      CircuitKind kind,
      int layer,
      int head,
      boolean augmented,
      double[] sigma,
      double[][] u,
      double[][] v) {
    this.kind = kind;
    this.layer = layer;
    this.head = head;
    this.augmented = augmented;
    this.sigma = sigma;
    this.u = u;
    this.v = v;
  }

  /**
   * The SVD of head {@code head}'s QK circuit; {@code augmented} adds the paper's bias row and
   * column.
   */
  public static HeadSvd qk(AttentionWeights attn, int head, boolean augmented) {
    ModelConfig c = attn.config();
    int g = c.kvHead(head);
    double[][] a = foldInput(attn, FeatureCircuits.headView(attn.wQ(), head, c.dHead()));
    double[][] b = foldInput(attn, FeatureCircuits.headView(attn.wK(), g, c.dHead()));
    if (attn.qNorm() != null) {
      // q_norm/k_norm: the weights' bilinear form is the proxy's, gains folded (the exact
      // single-feature table divides by each vector's rms and is not bilinear)
      scaleColumns(a, attn.qNorm().gain().toDoubleVector());
      scaleColumns(b, attn.kNorm().gain().toDoubleVector());
    }
    if (augmented) {
      a = append(a, bias(attn, attn.bQ(), attn.wQ(), head, c.dHead()));
      b = append(b, bias(attn, attn.bK(), attn.wK(), g, c.dHead()));
    }
    return ofFactors(CircuitKind.QK, attn.layer(), head, augmented, a, b);
  }

  /**
   * One side of the bias-augmented QK form as {@link #qk} builds it, {@code [d_model + 1, d_head]}:
   * {@code Ã = [N_in·W_Q^h; b̃_Q]} ({@code query}) or {@code B̃ = [N_in·W_K^g; b̃_K]}, the q/k-norm
   * gains folded into its columns when {@code gains} and the model has them (the model applies them
   * after the bias: {@code g ⊙ (x̃·W + b)/rms}). A fresh array ({@link PromptSvd} rotates its
   * rows).
   */
  static double[][] augmentedQkFactor(
      AttentionWeights attn, int head, boolean query, boolean gains) {
    ModelConfig c = attn.config();
    int block = query ? head : c.kvHead(head);
    INDArray w = query ? attn.wQ() : attn.wK();
    double[][] a = foldInput(attn, FeatureCircuits.headView(w, block, c.dHead()));
    Norm qkNorm = !gains ? null : query ? attn.qNorm() : attn.kNorm();
    if (qkNorm != null) {
      scaleColumns(a, qkNorm.gain().toDoubleVector());
    }
    double[] b = bias(attn, query ? attn.bQ() : attn.bK(), w, block, c.dHead());
    if (qkNorm != null) {
      scaleColumns(new double[][] {b}, qkNorm.gain().toDoubleVector());
    }
    return append(a, b);
  }

  /**
   * The SVD of head {@code head}'s OV circuit ({@code centerOutput}: the output SAE reads the
   * centred stream).
   */
  public static HeadSvd ov(AttentionWeights attn, int head, boolean centerOutput) {
    ModelConfig c = attn.config();
    int dh = c.dHead();
    double[][] a = foldInput(attn, FeatureCircuits.headView(attn.wV(), c.kvHead(head), dh));
    INDArray wo =
        attn.wO()
            .get(
                NDArrayIndex.interval((long) head * dh, (long) (head + 1) * dh),
                NDArrayIndex.all());
    double[][] b = toRows(wo.transpose());
    if (attn.postAttnNorm() != null) {
      scaleRows(b, attn.postAttnNorm().gain().toDoubleVector());
    }
    if (centerOutput) {
      center(b);
    }
    return ofFactors(CircuitKind.OV, attn.layer(), head, false, a, b);
  }

  private static void scaleColumns(double[][] a, double[] g) {
    for (double[] row : a) {
      for (int j = 0; j < row.length; j++) {
        row[j] *= g[j];
      }
    }
  }

  private static double[][] foldInput(AttentionWeights attn, INDArray w) {
    double[][] a = toRows(w);
    scaleRows(a, attn.inputNorm().gain().toDoubleVector());
    if (attn.inputNorm().kind() == NormKind.LAYER) {
      center(a);
    }
    return a;
  }

  /**
   * The head's bias with LayerNorm's bias folded in: {@code b + ln_b·W} (zeros when the model has
   * none).
   */
  private static double[] bias(
      AttentionWeights attn, INDArray fusedBias, INDArray w, int block, int dh) {
    double[] out = new double[dh];
    if (fusedBias != null) {
      double[] b = fusedBias.toDoubleVector();
      System.arraycopy(b, block * dh, out, 0, dh);
    }
    if (attn.inputNorm().bias() != null) {
      double[] lb = attn.inputNorm().bias().toDoubleVector();
      double[][] wr = toRows(FeatureCircuits.headView(w, block, dh));
      for (int d = 0; d < lb.length; d++) {
        for (int j = 0; j < dh; j++) {
          out[j] += lb[d] * wr[d][j];
        }
      }
    }
    return out;
  }

  private static double[][] append(double[][] a, double[] row) {
    double[][] out = Arrays.copyOf(a, a.length + 1);
    out[a.length] = row;
    return out;
  }

  private static double[][] toRows(INDArray m) {
    return m.toDoubleMatrix();
  }

  private static void scaleRows(double[][] a, double[] g) {
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[i].length; j++) {
        a[i][j] *= g[i];
      }
    }
  }

  /** Projects every column onto the mean-zero subspace ({@code P·A}, {@code P = I − 11ᵀ/d}). */
  private static void center(double[][] a) {
    int r = a[0].length;
    for (int j = 0; j < r; j++) {
      double m = 0;
      for (double[] row : a) {
        m += row[j];
      }
      m /= a.length;
      for (double[] row : a) {
        row[j] -= m;
      }
    }
  }

  /**
   * SVD of {@code A·Bᵀ} for factors {@code A, B [d, r]} via QR of each and SVD of the r × r core.
   */
  static HeadSvd ofFactors(
      CircuitKind kind, int layer, int head, boolean augmented, double[][] a, double[][] b) {
    Backend.init();
    int d = a.length;
    int r = a[0].length;
    if (b.length != d || b[0].length != r) {
      throw new IllegalArgumentException(
          "factors of shapes " + d + "x" + r + " and " + b.length + "x" + b[0].length);
    }
    if (r > d) {
      throw new IllegalArgumentException("d_head=" + r + " exceeds d_model=" + d + ": no thin QR");
    }
    try (INDArray qa = Nd4j.create(a).castTo(DataType.DOUBLE).dup('f');
        INDArray qb = Nd4j.create(b).castTo(DataType.DOUBLE).dup('f');
        INDArray ra = Nd4j.create(DataType.DOUBLE, new long[] {r, r}, 'f');
        INDArray rb = Nd4j.create(DataType.DOUBLE, new long[] {r, r}, 'f')) {
      Nd4j.getBlasWrapper().lapack().geqrf(qa, ra);
      Nd4j.getBlasWrapper().lapack().geqrf(qb, rb);
      try (INDArray core = ra.mmul(rb.transpose()).dup('f');
          INDArray s = Nd4j.create(DataType.DOUBLE, r);
          INDArray uc = Nd4j.create(DataType.DOUBLE, new long[] {r, r}, 'f');
          INDArray vct = Nd4j.create(DataType.DOUBLE, new long[] {r, r}, 'f')) {
        Nd4j.getBlasWrapper().lapack().gesvd(core, s, uc, vct);
        try (INDArray um = qa.mmul(uc);
            INDArray vm = qb.mmul(vct.transpose())) {
          double[][] uu = um.transpose().toDoubleMatrix();
          double[][] vv = vm.transpose().toDoubleMatrix();
          for (int k = 0; k < r; k++) {
            int arg = 0;
            for (int i = 1; i < d; i++) {
              if (Math.abs(uu[k][i]) > Math.abs(uu[k][arg])) {
                arg = i;
              }
            }
            if (uu[k][arg] < 0) {
              for (int i = 0; i < d; i++) {
                uu[k][i] = -uu[k][i];
                vv[k][i] = -vv[k][i];
              }
            }
          }
          return new HeadSvd(kind, layer, head, augmented, s.toDoubleVector(), uu, vv);
        }
      }
    }
  }

  /** QK or OV. */
  public CircuitKind kind() {
    return kind;
  }

  /** The layer. */
  public int layer() {
    return layer;
  }

  /** The query head. */
  public int head() {
    return head;
  }

  /** Whether this is the bias-augmented QK form ({@code d_model + 1} rows). */
  public boolean augmented() {
    return augmented;
  }

  /** "L13H4". */
  public String headName() {
    return "L" + layer + "H" + head;
  }

  /** The singular values, largest first (length d_head). */
  public double[] sigma() {
    return sigma.clone();
  }

  /** Left singular vector k (destination / value side), length d_model (+1 when augmented). */
  public double[] u(int k) {
    return u[k].clone();
  }

  /** Right singular vector k (source / output side). */
  public double[] v(int k) {
    return v[k].clone();
  }

  /** {@code U·Σ·Vᵀ} as a dense matrix (for checks on small models). */
  public double[][] dense() {
    int d = u[0].length;
    double[][] w = new double[d][d];
    for (int k = 0; k < sigma.length; k++) {
      for (int i = 0; i < d; i++) {
        double a = sigma[k] * u[k][i];
        for (int j = 0; j < d; j++) {
          w[i][j] += a * v[k][j];
        }
      }
    }
    return w;
  }

  /**
   * Loadings of every row of {@code rows [n, d_model]} (raw SAE decoder rows, or encoder columns as
   * rows) on each of the first {@code directions} singular vectors of {@code side}: {@code
   * out[k][i] = rows_i·w_k}.
   */
  public float[][] loadings(INDArray rows, Side side, int directions) {
    if (side.kind() != kind) {
      throw new IllegalArgumentException(
          "side " + side.id() + " does not belong to the " + kind + " circuit");
    }
    int dm = rows.columns();
    if (dm != u[0].length - (augmented ? 1 : 0)) {
      throw new IllegalArgumentException(
          "feature rows have width "
              + dm
              + ", the circuit d_model="
              + (u[0].length - (augmented ? 1 : 0)));
    }
    int nk = Math.min(directions, sigma.length);
    double[][] w = side.left() ? u : v;
    float[][] m = new float[dm][nk];
    for (int k = 0; k < nk; k++) {
      for (int i = 0; i < dm; i++) {
        m[i][k] = (float) w[k][i];
      }
    }
    int n = rows.rows();
    float[][] out = new float[nk][n];
    try (INDArray wm = Nd4j.create(m)) {
      for (int r0 = 0; r0 < n; r0 += 4096) {
        int r1 = Math.min(n, r0 + 4096);
        try (INDArray blk =
            rows.get(NDArrayIndex.interval(r0, r1), NDArrayIndex.all())
                .castTo(DataType.FLOAT)
                .mmul(wm)) {
          float[][] b = blk.toFloatMatrix();
          for (int i = 0; i < r1 - r0; i++) {
            for (int k = 0; k < nk; k++) {
              out[k][r0 + i] = b[i][k];
            }
          }
        }
      }
    }
    return out;
  }

  /**
   * Splits the bilinear value {@code x·W·yᵀ} of two residual directions (e.g. a query feature's and
   * a key feature's raw decoder rows) over the singular directions.
   */
  public Split split(double[] x, double[] y) {
    int d = u[0].length - (augmented ? 1 : 0);
    if (x.length != d || y.length != d) {
      throw new IllegalArgumentException(
          "directions of length " + x.length + " and " + y.length + ", expected " + d);
    }
    List<Contribution> terms = new ArrayList<>();
    double total = 0;
    for (int k = 0; k < sigma.length; k++) {
      double a = 0;
      double b = 0;
      for (int i = 0; i < d; i++) {
        a += x[i] * u[k][i];
        b += y[i] * v[k][i];
      }
      double c = sigma[k] * a * b;
      total += c;
      terms.add(new Contribution(k, sigma[k], c));
    }
    terms.sort(
        Comparator.comparingDouble((Contribution t) -> -Math.abs(t.value()))
            .thenComparingInt(Contribution::k));
    return new Split(total, List.copyOf(terms));
  }

  /** Indices of the {@code k} largest |values|, largest first (ties: smaller index first). */
  public static int[] topByAbs(float[] values, int k) {
    int m = Math.min(k, values.length);
    int[] idx = new int[m];
    int size = 0;
    for (int i = 0; i < values.length; i++) {
      float a = Math.abs(values[i]);
      if (size == m && a <= Math.abs(values[idx[m - 1]])) {
        continue;
      }
      int pos = size == m ? m - 1 : size++;
      while (pos > 0 && Math.abs(values[idx[pos - 1]]) < a) {
        idx[pos] = idx[pos - 1];
        pos--;
      }
      idx[pos] = i;
    }
    return idx;
  }

  /** One line: circuit, head, rank and the largest singular values (5 significant digits). */
  @Override
  public String toString() {
    StringBuilder sb =
        new StringBuilder("HeadSvd ")
            .append(kind.id().toUpperCase(java.util.Locale.ROOT))
            .append(' ')
            .append(headName())
            .append(augmented ? " (bias-augmented)" : "")
            .append(": ")
            .append(sigma.length)
            .append(" singular values, largest");
    for (int k = 0; k < Math.min(4, sigma.length); k++) {
      sb.append(k == 0 ? " " : ", ").append(String.format(java.util.Locale.ROOT, "%.5g", sigma[k]));
    }
    return sb.append(sigma.length > 4 ? ", ..." : "").toString();
  }
}
