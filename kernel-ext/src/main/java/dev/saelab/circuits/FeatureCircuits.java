package dev.saelab.circuits;

import dev.saelab.linalg.FactoredProduct;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.Progress;
import dev.saelab.linalg.RankBy;
import dev.saelab.linalg.Screen;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.sae.SaeDictionary;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Per-head feature-to-feature QK and OV tables of one attention layer, from weights alone, and the
 * analyses on the same projections (summed tables, partners, norms, QK–OV scatter, dense blocks).
 * The projections themselves are {@link HeadProjections}; each head's table is the exact top-k of
 * its {@link FactoredProduct}. This class keeps the engine settings (screen, tiles) and the running
 * tile statistics.
 *
 * <p>Math (kernel-ext/docs/math.md §2–3): input-side SAE decoder rows are folded through the
 * layer's input norm ({@code D̃ = D ⊙ (1+w)} for Gemma, {@code D ⊙ w} for Llama, centred then
 * scaled for GPT-2's LayerNorm) and projected: {@code Q = D̃·W_Q}, {@code K = D̃_key·W_K}, {@code V
 * = D̃·W_V}. Output-side SAE encoder columns are folded through Gemma's post-attention norm ({@code
 * Ẽ = E ⊙ (1+w_post)}; centred for SAEs trained on the centred GPT-2 stream) and projected back
 * through W_O: {@code P = Ẽ·W_Oᵀ}. Then for query head h reading KV head g: {@code QK_h[i,j] =
 * q_i^h · k_j^g} and {@code OV_h[i,j] = v_i^g · p_j^h} (value i writes output j).
 *
 * <pre>
 * jshell&gt; var fc = FeatureCircuits.of(model.attention(13), sae12, sae12, sae13)
 * jshell&gt; var tables = fc.compute(CircuitSpec.defaults().withHeads(0).withTopK(1000), Progress.NONE)
 * </pre>
 */
public final class FeatureCircuits implements AutoCloseable {
  private final HeadProjections proj;
  private final AttentionWeights attn;
  private final INDArray q;
  private final INDArray k;
  private final INDArray v;
  private final INDArray p;
  private final boolean sameQkSae;
  private final FactoredProduct.Stats stats = new FactoredProduct.Stats();

  /** Default GEMM tile rows of the float32 screen ({@link FactoredProduct#FP32_TILE_ROWS}). */
  public static final int DEFAULT_TILE_ROWS = FactoredProduct.FP32_TILE_ROWS;

  /** Default GEMM tile columns of the float32 screen. */
  public static final int DEFAULT_TILE_COLS = FactoredProduct.FP32_TILE_COLS;

  /**
   * Default tile of the int8 screen ({@link FactoredProduct#INT8_TILE_ROWS}; measured: 2048 × 16384
   * ≈ 8–9 % slower end to end).
   */
  public static final int INT8_TILE_ROWS = FactoredProduct.INT8_TILE_ROWS;

  /** Default int8 tile columns. */
  public static final int INT8_TILE_COLS = FactoredProduct.INT8_TILE_COLS;

  private int tileRows;
  private int tileCols;
  private Screen screen;

  private FeatureCircuits(HeadProjections proj) {
    this.proj = proj;
    this.attn = proj.attention();
    this.q = proj.queries();
    this.k = proj.keys();
    this.v = proj.values();
    this.p = proj.outputs();
    this.sameQkSae = proj.sameKeySae();
  }

  /**
   * Prepares the projections for one layer ({@link HeadProjections#of}).
   *
   * @param attn the layer's attention weights
   * @param querySae SAE on the layer's input stream (query and value side)
   * @param keySae SAE on the same stream for the key side (usually the same as querySae)
   * @param outSae SAE on the layer's output stream (OV output side), or null for QK only
   */
  public static FeatureCircuits of(
      AttentionWeights attn, SaeDictionary querySae, SaeDictionary keySae, SaeDictionary outSae) {
    return new FeatureCircuits(HeadProjections.of(attn, querySae, keySae, outSae));
  }

  /**
   * Prepares the projections from raw arrays ({@link HeadProjections#fromArrays}).
   *
   * @param attn attention weights
   * @param decoder query/value-side decoder {@code [n_in, d_model]}
   * @param keyDecoder key-side decoder, or null to reuse {@code decoder}
   * @param encoderRows output-side encoder as rows {@code [n_out, d_model]} (W_encᵀ), or null for
   *     QK only
   * @param centerOutput centre the encoder rows (SAEs trained on TransformerLens's centred stream)
   */
  public static FeatureCircuits fromArrays(
      AttentionWeights attn,
      INDArray decoder,
      INDArray keyDecoder,
      INDArray encoderRows,
      boolean centerOutput) {
    return new FeatureCircuits(
        HeadProjections.fromArrays(attn, decoder, keyDecoder, encoderRows, centerOutput));
  }

  /** The projections the analyses work on. */
  public HeadProjections projections() {
    return proj;
  }

  /** Sets the tile shape (rows × columns of the off-heap GEMM tile). */
  public FeatureCircuits tiles(int rows, int cols) {
    if (rows < 1 || cols < 1) {
      throw new IllegalArgumentException(
          "tile " + rows + " x " + cols + ": expected positive sizes");
    }
    this.tileRows = rows;
    this.tileCols = cols;
    return this;
  }

  /**
   * Sets how tiles are screened before candidates are rescored exactly (default {@link
   * Screen#auto()}); the tables are the same either way.
   */
  public FeatureCircuits screen(Screen s) {
    this.screen = s;
    return this;
  }

  /** Tile rows in use: as set, or the screen's default. */
  public int tileRows() {
    return tileRows > 0 ? tileRows : screen() == Screen.INT8 ? INT8_TILE_ROWS : DEFAULT_TILE_ROWS;
  }

  /** Tile columns in use: as set, or the screen's default. */
  public int tileCols() {
    return tileCols > 0 ? tileCols : screen() == Screen.INT8 ? INT8_TILE_COLS : DEFAULT_TILE_COLS;
  }

  /** The screen in use. */
  public Screen screen() {
    return screen == null ? Screen.auto() : screen;
  }

  /** The attention layer. */
  public int layer() {
    return attn.layer();
  }

  /** The model's configuration. */
  public ModelConfig config() {
    return attn.config();
  }

  /**
   * A dense block of one head's circuit: {@code out[a][b]} = QK or OV value of row feature {@code
   * rows[a]} and column feature {@code cols[b]} (raw scale), for heat maps and drill-down.
   */
  public double[][] block(CircuitKind kind, int head, int[] rows, int[] cols) {
    INDArray[] sides = proj.rawSides(kind, head);
    INDArray left = sides[0];
    INDArray right = sides[1];
    checkIndices(rows, left.rows(), kind.rowColumn());
    checkIndices(cols, right.rows(), kind.colColumn());
    try (INDArray l = Nd4j.pullRows(left, 1, rows);
        INDArray r = Nd4j.pullRows(right, 1, cols);
        INDArray m = l.mmul(r.transpose())) {
      return m.toDoubleMatrix();
    }
  }

  private static void checkIndices(int[] idx, long n, String what) {
    if (idx.length == 0) {
      throw new IllegalArgumentException(what + ": no features given");
    }
    for (int i : idx) {
      if (i < 0 || i >= n) {
        throw new IllegalArgumentException(what + " " + i + " out of range 0.." + (n - 1));
      }
    }
  }

  /** Projected queries {@code [n_in, n_heads·d_head]}. */
  public INDArray queries() {
    return q;
  }

  /** Projected keys {@code [n_key, n_kv_heads·d_head]}. */
  public INDArray keys() {
    return k;
  }

  /** Projected values {@code [n_in, n_kv_heads·d_head]}. */
  public INDArray values() {
    return v;
  }

  /** Projected output-SAE encoder rows ("pre-outputs") {@code [n_out, n_heads·d_head]}, or null. */
  public INDArray outputs() {
    return p;
  }

  /** Tile counts accumulated over every {@link #compute} call. */
  public FactoredProduct.Stats stats() {
    return stats;
  }

  /** Computes the tables the spec asks for, QK heads first, then OV heads. */
  public List<CircuitTable> compute(CircuitSpec spec, Progress progress) {
    ModelConfig c = attn.config();
    int[] heads = spec.heads().resolve(c);
    if (spec.kinds().contains(CircuitKind.OV) && p == null) {
      throw new IllegalArgumentException(
          "the OV circuit needs an output SAE (the SAE on the layer's output stream)");
    }
    int dh = c.dHead();
    long rowsQk = q.rows();
    long rowsOv = v.rows();
    long total = 0;
    for (CircuitKind kind : spec.kinds()) {
      long n = kind == CircuitKind.QK ? rowsQk : rowsOv;
      total += heads.length * ((n + tileRows() - 1) / tileRows());
    }
    MemoryEstimate.require(
        MemoryEstimate.tables(
            c,
            Math.max(rowsQk, rowsOv),
            Math.max(k.rows(), p == null ? 0 : p.rows()),
            tileRows(),
            tileCols()),
        "tables for layer " + attn.layer());
    long kQk =
        spec.kinds().contains(CircuitKind.QK)
            ? Math.min(
                spec.topK(),
                FactoredProduct.entries(rowsQk, k.rows(), spec.excludeSelf() && sameQkSae))
            : 0;
    long kOv =
        spec.kinds().contains(CircuitKind.OV)
            ? Math.min(spec.topK(), FactoredProduct.entries(rowsOv, p.rows(), false))
            : 0;
    MemoryEstimate.requireHeap(
        MemoryEstimate.perHeadTables(
            heads.length, kQk, kOv, FactoredProduct.workers(), spec.queryScale()),
        "top-k " + spec.topK() + " per head for layer " + attn.layer());
    long[] done = {0};
    final long totalTiles = total;
    List<CircuitTable> out = new ArrayList<>();
    try (FactoredProduct.Workspace ws =
        new FactoredProduct.Workspace(tileRows(), tileCols(), spec.prune(), screen())) {
      for (CircuitKind kind : new CircuitKind[] {CircuitKind.QK, CircuitKind.OV}) {
        if (!spec.kinds().contains(kind)) {
          continue;
        }
        for (int h : heads) {
          String stage = kind.id() + " " + attn.headName(h);
          progress.update(stage, done[0], totalTiles);
          boolean excl = spec.excludeSelf() && kind == CircuitKind.QK && sameQkSae;
          List<FeatureEdge> edges;
          try (HeadProjections.Operands ops = proj.operands(kind, h, spec)) {
            edges =
                new FactoredProduct(ops.left, ops.right)
                    .topK(
                        spec.topK(),
                        spec.rankBy(),
                        excl,
                        ws,
                        () -> progress.update(stage, ++done[0], totalTiles));
          }
          double scale = scale(kind, spec);
          if (scale != 1.0) {
            List<FeatureEdge> scaled = new ArrayList<>(edges.size());
            for (FeatureEdge e : edges) {
              scaled.add(new FeatureEdge(e.row(), e.col(), (float) (e.value() * scale)));
            }
            edges = scaled;
          }
          out.add(new CircuitTable(kind, attn.layer(), h, spec.rankBy(), scale, edges));
        }
      }
      stats.add(ws.stats());
    }
    progress.update("done", totalTiles, totalTiles);
    return out;
  }

  private double scale(CircuitKind kind, CircuitSpec spec) {
    return kind == CircuitKind.QK && spec.queryScale() ? attn.config().queryScale() : 1.0;
  }

  /**
   * The circuit summed over all heads of the layer: {@code Σ_h QK_h} (or {@code Σ_h OV_h}),
   * computed as one product of the heads' concatenated blocks, with each top pair's per-head
   * breakdown and the per-head tables' thresholds (so {@link LayerTable#distributed()} lists pairs
   * strong in total and weak in every head). Honours the spec's top-k, ranking, self-pair
   * exclusion, query scale, RoPE distance and cosine variant (cosine of the concatenated vectors);
   * ignores its head list.
   */
  public LayerTable computeSum(CircuitKind kind, CircuitSpec spec, Progress progress) {
    ModelConfig c = attn.config();
    int nh = c.nHeads();
    int dh = c.dHead();
    double scale = scale(kind, spec);
    boolean excl = spec.excludeSelf() && kind == CircuitKind.QK && sameQkSae;
    if (kind == CircuitKind.OV && p == null) {
      throw new IllegalArgumentException(
          "the OV circuit needs an output SAE (the SAE on the layer's output stream)");
    }
    long rows = kind == CircuitKind.QK ? q.rows() : v.rows();
    long cols = kind == CircuitKind.QK ? k.rows() : p.rows();
    MemoryEstimate.requireHeap(
        MemoryEstimate.summedTable(
            nh,
            Math.min(spec.topK(), FactoredProduct.entries(rows, cols, excl)),
            FactoredProduct.workers()),
        "top-k " + spec.topK() + " summed over the heads of layer " + attn.layer());
    // Per-head tables first: their last entries are the thresholds of "weak in every head".
    double[] thresholds = new double[nh];
    List<CircuitTable> perHead =
        compute(spec.withKinds(java.util.EnumSet.of(kind)).withHeads(HeadSet.all()), progress);
    for (CircuitTable t : perHead) {
      List<FeatureEdge> e = t.edges();
      thresholds[t.head()] =
          e.size() < spec.topK()
              ? Double.NEGATIVE_INFINITY
              : spec.rankBy().key((double) e.get(e.size() - 1).value());
    }
    // Each head's sides with the RoPE rotation (as its own table uses them), concatenated; cosine
    // comes after.
    List<INDArray> owned = new ArrayList<>();
    INDArray[] lefts = new INDArray[nh];
    INDArray[] rights = new INDArray[nh];
    List<HeadProjections.Operands> heads = new ArrayList<>();
    try {
      for (int h = 0; h < nh; h++) {
        HeadProjections.Operands o = proj.operands(kind, h, spec.withCosine(false));
        heads.add(o);
        lefts[h] = o.left;
        rights[h] = o.right;
      }
      owned.add(Nd4j.hstack(lefts));
      owned.add(Nd4j.hstack(rights));
    } finally {
      heads.forEach(HeadProjections.Operands::close);
    }
    INDArray left = owned.get(0);
    INDArray right = owned.get(1);
    try {
      INDArray l = left;
      INDArray r = right;
      if (spec.cosine()) {
        l = HeadProjections.unitRows(left);
        r = HeadProjections.unitRows(right);
        owned.add(l);
        owned.add(r);
      }
      String stage = kind.id() + " L" + attn.layer() + " sum";
      List<FeatureEdge> top;
      try (FactoredProduct.Workspace ws =
          new FactoredProduct.Workspace(tileRows(), tileCols(), spec.prune(), screen())) {
        long rowsTotal = (l.rows() + tileRows() - 1) / tileRows();
        long[] done = {0};
        top =
            new FactoredProduct(l, r)
                .topK(
                    spec.topK(),
                    spec.rankBy(),
                    excl,
                    ws,
                    () -> progress.update(stage, ++done[0], rowsTotal));
        stats.add(ws.stats());
      }
      List<LayerTable.Edge> edges = new ArrayList<>(top.size());
      for (FeatureEdge e : top) {
        float[] lr = left.getRow(e.row()).toFloatVector();
        float[] rr = right.getRow(e.col()).toFloatVector();
        double ln = 0;
        double rn = 0;
        for (int i = 0; i < lr.length; i++) {
          ln += (double) lr[i] * lr[i];
          rn += (double) rr[i] * rr[i];
        }
        double norm = spec.cosine() ? Math.sqrt(ln) * Math.sqrt(rn) : 1.0;
        double[] parts = new double[nh];
        double[] own = new double[nh];
        for (int h = 0; h < nh; h++) {
          double dot = 0;
          double a = 0;
          double b = 0;
          for (int i = h * dh; i < (h + 1) * dh; i++) {
            dot += (double) lr[i] * rr[i];
            a += (double) lr[i] * lr[i];
            b += (double) rr[i] * rr[i];
          }
          parts[h] = norm > 0 ? dot / norm * scale : 0;
          double hn = Math.sqrt(a) * Math.sqrt(b);
          own[h] = spec.cosine() ? (hn > 0 ? dot / hn : 0) * scale : dot * scale;
        }
        edges.add(new LayerTable.Edge(e.row(), e.col(), e.value() * scale, parts, own));
      }
      return new LayerTable(kind, attn.layer(), spec.rankBy(), scale, edges, thresholds);
    } finally {
      owned.forEach(INDArray::close);
    }
  }

  /** The role a feature plays in a drill-down. */
  public enum Role {
    /** As the query (QK row): which keys it attends to. */
    QUERY,
    /** As the key (QK column): which queries attend to it. */
    KEY,
    /** As the value (OV row): which output features it writes. */
    VALUE,
    /** As the output (OV column, an output-SAE feature): which values write it. */
    OUTPUT;

    /** Parses {@code query}, {@code key}, {@code value} or {@code output}. */
    public static Role parse(String s) {
      try {
        return valueOf(s.toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("role " + s + ": expected query, key, value or output");
      }
    }

    /** {@code query}, {@code key}, {@code value} or {@code output}. */
    public String id() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * Whether the feature is the row of its circuit (query, value) rather than the column (key,
     * output).
     */
    public boolean isRow() {
      return this == QUERY || this == VALUE;
    }

    /** The other feature of an edge this role's feature is part of. */
    public int partner(FeatureEdge e) {
      return isRow() ? e.col() : e.row();
    }

    /** The circuit this role belongs to. */
    public CircuitKind kind() {
      return this == QUERY || this == KEY ? CircuitKind.QK : CircuitKind.OV;
    }
  }

  /**
   * A feature's strongest partners in one head: as a query, the keys it attends to most; as a key,
   * the queries attending to it; as a value, the output features it writes; as an output, the
   * values writing it. Edges keep the circuit's orientation ({@code row} = query/value feature,
   * {@code col} = key/output feature).
   */
  public List<FeatureEdge> partners(
      int feature, Role role, int head, int k, RankBy rankBy, boolean cosine) {
    if (k < 1) {
      throw new IllegalArgumentException("top-k " + k + ": expected a positive number of partners");
    }
    INDArray[] s = proj.rawSides(role.kind(), head);
    boolean rowSide = role.isRow();
    INDArray own = rowSide ? s[0] : s[1];
    INDArray others = rowSide ? s[1] : s[0];
    if (feature < 0 || feature >= own.rows()) {
      throw new IllegalArgumentException(
          "feature "
              + feature
              + " out of range 0.."
              + (own.rows() - 1)
              + " for the "
              + role.id()
              + " side");
    }
    double[] scores;
    try (INDArray x = own.getRow(feature).dup().reshape(own.columns(), 1);
        INDArray m = others.mmul(x)) {
      scores = m.toDoubleVector();
      if (cosine) {
        double xn = x.norm2Number().doubleValue();
        double[] on = others.norm2(1).toDoubleVector();
        for (int i = 0; i < scores.length; i++) {
          double d = xn * on[i];
          scores[i] = d > 0 ? scores[i] / d : 0;
        }
      }
    }
    Integer[] idx = new Integer[scores.length];
    for (int i = 0; i < idx.length; i++) {
      idx[i] = i;
    }
    final double[] sf = scores;
    java.util.Arrays.sort(
        idx,
        java.util.Comparator.comparingDouble((Integer i) -> -rankBy.key(sf[i]))
            .thenComparingInt(i -> i));
    List<FeatureEdge> out = new ArrayList<>();
    for (int i = 0; i < Math.min(k, idx.length); i++) {
      int o = idx[i];
      float val = (float) scores[o];
      out.add(rowSide ? new FeatureEdge(feature, o, val) : new FeatureEdge(o, feature, val));
    }
    return out;
  }

  /**
   * A feature's projection norms per head: rows {@code q} (‖q_i^h‖), {@code k} (‖k_i^g‖, key side),
   * {@code v} (‖v_i^g‖) for input-SAE feature i, and {@code p} (‖p_i^h‖) for output-SAE feature i
   * (NaN when there is no output SAE or it is narrower); {@code out[row][head]}.
   */
  public double[][] norms(int feature) {
    ModelConfig c = attn.config();
    int nh = c.nHeads();
    int dh = c.dHead();
    if (feature < 0 || feature >= q.rows()) {
      throw new IllegalArgumentException(
          "feature " + feature + " out of range 0.." + (q.rows() - 1));
    }
    double[][] out = new double[4][nh];
    for (int h = 0; h < nh; h++) {
      int g = c.kvHead(h);
      out[0][h] = headView(q, h, dh).getRow(feature).norm2Number().doubleValue();
      out[1][h] =
          feature < k.rows()
              ? headView(k, g, dh).getRow(feature).norm2Number().doubleValue()
              : Double.NaN;
      out[2][h] = headView(v, g, dh).getRow(feature).norm2Number().doubleValue();
      out[3][h] =
          p != null && feature < p.rows()
              ? headView(p, h, dh).getRow(feature).norm2Number().doubleValue()
              : Double.NaN;
    }
    return out;
  }

  /**
   * The post's QK–OV scatter for one head: per input-SAE feature j, {@code x_j} = mean over query
   * features of {@code QK[i, j]} (j as key) and {@code y_j} = mean over output features of {@code
   * |OV[j, o]|} (j as value), and their Pearson correlation. Needs the same SAE on the key and
   * value side and an output SAE; the |OV| means run through the full value × output product in row
   * blocks (never held whole).
   */
  public QkOvScatter qkOvScatter(int head) {
    ModelConfig c = attn.config();
    int dh = c.dHead();
    int g = c.kvHead(head);
    if (p == null) {
      throw new IllegalArgumentException(
          "the QK-OV scatter needs an output SAE (the SAE on the layer's output" + " stream)");
    }
    if (!sameQkSae) {
      throw new IllegalArgumentException(
          "the QK-OV scatter pairs key and value features: use one SAE for both");
    }
    INDArray qh = headView(q, head, dh);
    INDArray kg = headView(k, g, dh);
    INDArray vg = headView(v, g, dh);
    INDArray ph = headView(p, head, dh);
    double[] x;
    try (INDArray meanQ = qh.mean(0).reshape(dh, 1);
        INDArray xs = kg.mmul(meanQ)) {
      x = xs.toDoubleVector();
    }
    int n = vg.rows();
    double[] y = new double[n];
    try (INDArray pt = ph.transpose().dup('c')) {
      for (int r0 = 0; r0 < n; r0 += 2048) {
        int r1 = Math.min(n, r0 + 2048);
        try (INDArray blk = vg.get(NDArrayIndex.interval(r0, r1), NDArrayIndex.all()).mmul(pt);
            INDArray a = org.nd4j.linalg.ops.transforms.Transforms.abs(blk, false);
            INDArray m = a.mean(1)) {
          System.arraycopy(m.toDoubleVector(), 0, y, r0, r1 - r0);
        }
        if (Thread.currentThread().isInterrupted()) {
          throw new java.util.concurrent.CancellationException("QK-OV scatter interrupted");
        }
      }
    }
    return new QkOvScatter(attn.layer(), head, x, y, QkOvScatter.pearson(x, y));
  }

  /**
   * Columns {@code [block·dh, (block+1)·dh)} of a fused projection ({@link
   * HeadProjections#headView}).
   */
  public static INDArray headView(INDArray m, int block, int dh) {
    return HeadProjections.headView(m, block, dh);
  }

  /** {@link #headView} copied into a new c-order array. */
  public static INDArray slice(INDArray m, int block, int dh) {
    return HeadProjections.slice(m, block, dh);
  }

  @Override
  public void close() {
    proj.close();
  }
}
