package dev.saelab.circuits;

import dev.saelab.SaeLabException;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.nd.Backend;
import dev.saelab.sae.SaeDictionary;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Per-head feature-to-feature QK and OV tables of one attention layer, from weights alone.
 *
 * <p>Math (formats-and-math.md §3): input-side SAE decoder rows are folded through the layer's input norm
 * ({@code D̃ = D ⊙ (1+w)} for Gemma, {@code D ⊙ w} for Llama, centred then scaled for GPT-2's LayerNorm) and
 * projected: {@code Q = D̃·W_Q}, {@code K = D̃_key·W_K}, {@code V = D̃·W_V}. Output-side SAE encoder columns are
 * folded through Gemma's post-attention norm ({@code Ẽ = E ⊙ (1+w_post)}; centred for SAEs trained on the centred
 * GPT-2 stream) and projected back through W_O: {@code P = Ẽ·W_Oᵀ}. Then for query head h reading KV head g:
 * {@code QK_h[i,j] = q_i^h · k_j^g} and {@code OV_h[i,j] = v_i^g · p_j^h} (value i writes output j).
 *
 * <pre>
 * jshell&gt; var fc = FeatureCircuits.of(model.attention(13), sae12, sae12, sae13)
 * jshell&gt; var tables = fc.compute(CircuitSpec.defaults().withHeads(0).withTopK(1000), Progress.NONE)
 * </pre>
 */
public final class FeatureCircuits implements AutoCloseable {
  private final AttentionWeights attn;
  private final INDArray q;
  private final INDArray k;
  private final INDArray v;
  private final INDArray p;
  private final boolean sameQkSae;
  private final TopKProduct.Stats stats = new TopKProduct.Stats();
  /** Default GEMM tile rows: a 2048 × 16384 float tile (128 MiB) runs near ND4J's peak GEMM rate. */
  public static final int DEFAULT_TILE_ROWS = 2048;
  /** Default GEMM tile columns. */
  public static final int DEFAULT_TILE_COLS = 16384;
  private int tileRows = DEFAULT_TILE_ROWS;
  private int tileCols = DEFAULT_TILE_COLS;

  private FeatureCircuits(AttentionWeights attn, INDArray q, INDArray k, INDArray v, INDArray p, boolean sameQkSae) {
    this.attn = attn;
    this.q = q;
    this.k = k;
    this.v = v;
    this.p = p;
    this.sameQkSae = sameQkSae;
  }

  /**
   * Prepares the projections for one layer.
   *
   * @param attn the layer's attention weights
   * @param querySae SAE on the layer's input stream (query and value side)
   * @param keySae SAE on the same stream for the key side (usually the same as querySae)
   * @param outSae SAE on the layer's output stream (OV output side), or null for QK only
   */
  public static FeatureCircuits of(AttentionWeights attn, SaeDictionary querySae, SaeDictionary keySae,
      SaeDictionary outSae) {
    ModelConfig c = attn.config();
    check(querySae, c, "query/value SAE");
    check(keySae, c, "key SAE");
    if (outSae != null) {
      check(outSae, c, "output SAE");
    }
    INDArray enc = outSae == null ? null : outSae.wEnc().transpose();
    return fromArrays(attn, querySae.wDec(), keySae == querySae ? null : keySae.wDec(), enc,
        outSae != null && outSae.config().centeredStream());
  }

  private static void check(SaeDictionary s, ModelConfig c, String what) {
    if (s.config().dIn() != c.dModel()) {
      throw new SaeLabException(what + " " + s.path() + " has d_in=" + s.config().dIn() + " but the model has d_model="
          + c.dModel());
    }
  }

  /**
   * Prepares the projections from raw arrays.
   *
   * @param attn attention weights
   * @param decoder query/value-side decoder {@code [n_in, d_model]}
   * @param keyDecoder key-side decoder, or null to reuse {@code decoder}
   * @param encoderRows output-side encoder as rows {@code [n_out, d_model]} (W_encᵀ), or null for QK only
   * @param centerOutput centre the encoder rows (SAEs trained on TransformerLens's centred stream)
   */
  public static FeatureCircuits fromArrays(AttentionWeights attn, INDArray decoder, INDArray keyDecoder,
      INDArray encoderRows, boolean centerOutput) {
    Backend.init();
    ModelConfig c = attn.config();
    long nIn = decoder.rows();
    long nKey = keyDecoder == null ? nIn : keyDecoder.rows();
    long nOut = encoderRows == null ? 0 : encoderRows.rows();
    MemoryEstimate.require(MemoryEstimate.projections(c, nIn, nKey, nOut), "projections for layer " + attn.layer());
    // Row blocks: the folded decoder/encoder never exist whole, only the projections do.
    UnaryOperator<INDArray> foldIn = b -> attn.inputNorm().foldInto(b);
    INDArray[] qvk = keyDecoder == null ? project(decoder, foldIn, attn.wQ(), attn.wV(), attn.wK())
        : project(decoder, foldIn, attn.wQ(), attn.wV());
    INDArray k = keyDecoder == null ? qvk[2] : project(keyDecoder, foldIn, attn.wK())[0];
    INDArray p = null;
    if (encoderRows != null) {
      try (INDArray wOt = attn.wO().transpose().dup('c')) {
        p = project(encoderRows, b -> foldOutput(b, attn, centerOutput), wOt)[0];
      }
    }
    INDArray q = qvk[0];
    INDArray v = qvk[1];
    return new FeatureCircuits(attn, q, k, v, p, keyDecoder == null);
  }

  private static final int PROJECTION_BLOCK = 4096;

  /**
   * {@code fold(X)·W_i} for each {@code W_i}, in row blocks of {@link #PROJECTION_BLOCK} rows; each block is folded
   * once and multiplied by every {@code W_i}.
   */
  private static INDArray[] project(INDArray x, UnaryOperator<INDArray> fold, INDArray... ws) {
    long n = x.rows();
    INDArray[] out = new INDArray[ws.length];
    for (int i = 0; i < ws.length; i++) {
      out[i] = Nd4j.createUninitialized(DataType.FLOAT, new long[] {n, ws[i].columns()}, 'c');
    }
    for (long r0 = 0; r0 < n; r0 += PROJECTION_BLOCK) {
      long r1 = Math.min(n, r0 + PROJECTION_BLOCK);
      INDArray folded = fold.apply(x.get(NDArrayIndex.interval(r0, r1), NDArrayIndex.all()));
      for (int i = 0; i < ws.length; i++) {
        // A row block of a c-order array is contiguous: the GEMM writes straight into it.
        Nd4j.gemm(folded, ws[i], out[i].get(NDArrayIndex.interval(r0, r1), NDArrayIndex.all()), false, false, 1.0,
            0.0);
      }
      folded.close();
    }
    return out;
  }

  /** Output side: optional centring (TransformerLens's centred stream), then Gemma's post-attention norm gain. */
  private static INDArray foldOutput(INDArray block, AttentionWeights attn, boolean center) {
    INDArray e = block.dup('c');
    if (center) {
      try (INDArray mean = e.mean(1)) {
        e.subiColumnVector(mean.reshape(e.rows(), 1));
      }
    }
    return attn.postAttnNorm() == null ? e : e.muliRowVector(attn.postAttnNorm().gain());
  }

  /** Sets the tile shape (rows × columns of the off-heap GEMM tile). */
  public FeatureCircuits tiles(int rows, int cols) {
    this.tileRows = rows;
    this.tileCols = cols;
    return this;
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
   * A dense block of one head's circuit: {@code out[a][b]} = QK or OV value of row feature {@code rows[a]} and
   * column feature {@code cols[b]} (raw scale), for heat maps and drill-down.
   */
  public double[][] block(CircuitKind kind, int head, int[] rows, int[] cols) {
    ModelConfig c = attn.config();
    if (head < 0 || head >= c.nHeads()) {
      throw new IllegalArgumentException("head " + head + " out of range 0.." + (c.nHeads() - 1));
    }
    if (kind == CircuitKind.OV && p == null) {
      throw new IllegalArgumentException("the OV circuit needs an output SAE");
    }
    int dh = c.dHead();
    int g = c.kvHead(head);
    INDArray left = kind == CircuitKind.QK ? headView(q, head, dh) : headView(v, g, dh);
    INDArray right = kind == CircuitKind.QK ? headView(k, g, dh) : headView(p, head, dh);
    checkIndices(rows, left.rows(), kind.rowColumn());
    checkIndices(cols, right.rows(), kind.colColumn());
    try (INDArray l = Nd4j.pullRows(left, 1, rows); INDArray r = Nd4j.pullRows(right, 1, cols);
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
  public TopKProduct.Stats stats() {
    return stats;
  }

  /** Computes the tables the spec asks for, QK heads first, then OV heads. */
  public List<CircuitTable> compute(CircuitSpec spec, Progress progress) {
    ModelConfig c = attn.config();
    int[] heads = spec.heads() == null ? java.util.stream.IntStream.range(0, c.nHeads()).toArray() : spec.heads();
    for (int h : heads) {
      if (h < 0 || h >= c.nHeads()) {
        throw new IllegalArgumentException("head " + h + " out of range 0.." + (c.nHeads() - 1));
      }
    }
    if (spec.kinds().contains(CircuitKind.OV) && p == null) {
      throw new IllegalArgumentException("the OV circuit needs an output SAE (--sae-out)");
    }
    int dh = c.dHead();
    long rowsQk = q.rows();
    long rowsOv = v.rows();
    long total = 0;
    for (CircuitKind kind : spec.kinds()) {
      long n = kind == CircuitKind.QK ? rowsQk : rowsOv;
      total += heads.length * ((n + tileRows - 1) / tileRows);
    }
    MemoryEstimate.require(MemoryEstimate.tables(c, Math.max(rowsQk, rowsOv),
        Math.max(k.rows(), p == null ? 0 : p.rows()), tileRows, tileCols), "tables for layer " + attn.layer());
    long[] done = {0};
    final long totalTiles = total;
    List<CircuitTable> out = new ArrayList<>();
    TopKProduct engine = new TopKProduct(tileRows, tileCols, spec.prune());
    try {
      for (CircuitKind kind : new CircuitKind[] {CircuitKind.QK, CircuitKind.OV}) {
        if (!spec.kinds().contains(kind)) {
          continue;
        }
        for (int h : heads) {
          int g = c.kvHead(h);
          INDArray left;
          INDArray right;
          if (kind == CircuitKind.QK) {
            left = headView(q, h, dh);
            right = headView(k, g, dh);
          } else {
            left = headView(v, g, dh);
            right = headView(p, h, dh);
          }
          String stage = kind.id() + " " + attn.headName(h);
          progress.update(stage, done[0], totalTiles);
          boolean excl = spec.excludeSelf() && kind == CircuitKind.QK && sameQkSae;
          List<FeatureEdge> edges = engine.topK(left, right, spec.topK(), spec.rankBy(), excl, stats,
              () -> progress.update(stage, ++done[0], totalTiles));
          double scale = kind == CircuitKind.QK && spec.queryScale() ? c.queryScale() : 1.0;
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
    } finally {
      engine.release();
    }
    progress.update("done", totalTiles, totalTiles);
    return out;
  }

  /** Columns {@code [block·dh, (block+1)·dh)} of a fused projection (one head's block), as a strided view. */
  public static INDArray headView(INDArray m, int block, int dh) {
    return m.get(NDArrayIndex.all(), NDArrayIndex.interval((long) block * dh, (long) (block + 1) * dh));
  }

  /** {@link #headView} copied into a new c-order array. */
  public static INDArray slice(INDArray m, int block, int dh) {
    return headView(m, block, dh).dup('c');
  }

  @Override
  public void close() {
    q.close();
    k.close();
    v.close();
    if (p != null) {
      p.close();
    }
  }
}
