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

/**
 * Per-head feature-to-feature QK and OV tables of one attention layer, from weights alone, and the
 * entry point of the analyses on the same projections: summed tables ({@link SummedCircuit}),
 * drill-down ({@link DrillDown}), QK–OV scatter ({@link QkOvScatter}), dense blocks. The
 * projections themselves are {@link HeadProjections}; each head's table is the exact top-k of its
 * {@link FactoredProduct}. This class keeps the engine settings (screen, tiles) and the running
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
   * Default tile of the int8 screen ({@link FactoredProduct#INT8_TILE_ROWS}: one per worker, each
   * computed and scanned on one core).
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
   * As {@link #of(AttentionWeights, SaeDictionary, SaeDictionary, SaeDictionary)}, choosing how QK
   * passes the model's q/k norms ({@link QkNorm}; models without them ignore it).
   */
  public static FeatureCircuits of(
      AttentionWeights attn,
      SaeDictionary querySae,
      SaeDictionary keySae,
      SaeDictionary outSae,
      QkNorm qkNorm) {
    return new FeatureCircuits(HeadProjections.of(attn, querySae, keySae, outSae, qkNorm));
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

  /** The layer's attention weights. */
  public AttentionWeights attention() {
    return attn;
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
            tileCols(),
            screen()),
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
          QkNorm norm = proj.qkNorm();
          String variant = kind == CircuitKind.QK && norm != null ? norm.id() : "";
          out.add(new CircuitTable(kind, attn.layer(), h, spec.rankBy(), scale, edges, variant));
        }
      }
      stats.add(ws.stats());
    }
    progress.update("done", totalTiles, totalTiles);
    return out;
  }

  double scale(CircuitKind kind, CircuitSpec spec) {
    return kind == CircuitKind.QK && spec.queryScale() ? attn.config().queryScale() : 1.0;
  }

  /**
   * The circuit summed over all heads of the layer, with each top pair's per-head breakdown and
   * "weak in every head" ({@link SummedCircuit}).
   */
  public LayerTable computeSum(CircuitKind kind, CircuitSpec spec, Progress progress) {
    return SummedCircuit.compute(this, kind, spec, progress);
  }

  /**
   * A feature's strongest partners in one head: as a query, the keys it attends to most; as a key,
   * the queries attending to it; as a value, the output features it writes; as an output, the
   * values writing it ({@link DrillDown}). Edges keep the circuit's orientation.
   */
  public List<FeatureEdge> partners(
      int feature, FeatureRole role, int head, int k, RankBy rankBy, boolean cosine) {
    return DrillDown.partners(proj, feature, role, head, k, rankBy, cosine);
  }

  /**
   * A feature's projection norms per head, {@code out[row][head]} with rows q, k, v, p ({@link
   * DrillDown}).
   */
  public double[][] norms(int feature) {
    return DrillDown.norms(proj, feature);
  }

  /** The post's QK–OV scatter for one head ({@link QkOvScatter#of}). */
  public QkOvScatter qkOvScatter(int head) {
    return QkOvScatter.of(proj, head);
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
