package dev.saelab.circuits;

import dev.saelab.io.Backend;
import dev.saelab.io.SaeLabException;
import dev.saelab.linalg.FactoredProduct;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.sae.SaeDictionary;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * One layer's SAE directions folded through the norms and projected once (the maths document,
 * sections 2–3): {@code Q = fold_in(D)·W_Q}, {@code K = fold_in(D_key)·W_K}, {@code V =
 * fold_in(D)·W_V} and {@code P = fold_out(E)·W_Oᵀ}, each fused over heads. A head's QK or OV
 * circuit is then a {@link FactoredProduct} of two head blocks ({@link #product}): QK_h =
 * Q_h·K_g(h)ᵀ, OV_h = V_g(h)·P_hᵀ. The analyses ({@link FeatureCircuits}: per-head and summed
 * tables, partners, norms, scatter, blocks) work on these. Owns the projections' off-heap memory
 * until {@link #close()}.
 */
public final class HeadProjections implements AutoCloseable {
  private final AttentionWeights attn;
  private final INDArray q;
  private final INDArray k;
  private final INDArray v;
  private final INDArray p;
  private final boolean sameQkSae;
  private final QkNorm qkNorm;
  private final java.util.Map<String, INDArray> headViews = new java.util.HashMap<>();

  private HeadProjections(
      AttentionWeights attn,
      INDArray q,
      INDArray k,
      INDArray v,
      INDArray p,
      boolean sameQkSae,
      QkNorm qkNorm) {
    this.attn = attn;
    this.qkNorm = qkNorm;
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
  public static HeadProjections of(
      AttentionWeights attn, SaeDictionary querySae, SaeDictionary keySae, SaeDictionary outSae) {
    return of(attn, querySae, keySae, outSae, QkNorm.EXACT);
  }

  /**
   * As {@link #of(AttentionWeights, SaeDictionary, SaeDictionary, SaeDictionary)}, choosing how QK
   * passes the model's q/k norms (ignored by models without them).
   */
  public static HeadProjections of(
      AttentionWeights attn,
      SaeDictionary querySae,
      SaeDictionary keySae,
      SaeDictionary outSae,
      QkNorm qkNorm) {
    ModelConfig c = attn.config();
    check(querySae, c, "query/value SAE");
    check(keySae, c, "key SAE");
    if (outSae != null) {
      check(outSae, c, "output SAE");
    }
    INDArray enc = outSae == null ? null : outSae.wEnc().transpose();
    return fromArrays(
        attn,
        querySae.wDec(),
        keySae == querySae ? null : keySae.wDec(),
        enc,
        outSae != null && outSae.config().centeredStream(),
        qkNorm);
  }

  /**
   * How the QK tables of these projections read the model's q/k norms: the choice, or null for a
   * model without them.
   */
  public QkNorm qkNorm() {
    return attn.qNorm() == null ? null : qkNorm;
  }

  private static void check(SaeDictionary s, ModelConfig c, String what) {
    if (s.config().dIn() != c.dModel()) {
      throw new SaeLabException(
          what
              + " "
              + s.path()
              + " has d_in="
              + s.config().dIn()
              + " but the model has d_model="
              + c.dModel());
    }
  }

  /**
   * Prepares the projections from raw arrays.
   *
   * @param attn attention weights
   * @param decoder query/value-side decoder {@code [n_in, d_model]}
   * @param keyDecoder key-side decoder, or null to reuse {@code decoder}
   * @param encoderRows output-side encoder as rows {@code [n_out, d_model]} (W_encᵀ), or null for
   *     QK only
   * @param centerOutput centre the encoder rows (SAEs trained on TransformerLens's centred stream)
   */
  public static HeadProjections fromArrays(
      AttentionWeights attn,
      INDArray decoder,
      INDArray keyDecoder,
      INDArray encoderRows,
      boolean centerOutput) {
    return fromArrays(attn, decoder, keyDecoder, encoderRows, centerOutput, QkNorm.EXACT);
  }

  /**
   * As {@link #fromArrays(AttentionWeights, INDArray, INDArray, INDArray, boolean)}, with queries
   * and keys passed through the model's q/k norms as {@code qkNorm} says (a model without them
   * ignores it).
   */
  public static HeadProjections fromArrays(
      AttentionWeights attn,
      INDArray decoder,
      INDArray keyDecoder,
      INDArray encoderRows,
      boolean centerOutput,
      QkNorm qkNorm) {
    Backend.init();
    ModelConfig c = attn.config();
    long nIn = decoder.rows();
    long nKey = keyDecoder == null ? nIn : keyDecoder.rows();
    long nOut = encoderRows == null ? 0 : encoderRows.rows();
    MemoryEstimate.require(
        MemoryEstimate.projections(c, nIn, nKey, nOut), "projections for layer " + attn.layer());
    // Row blocks: the folded decoder/encoder never exist whole, only the projections do.
    UnaryOperator<INDArray> foldIn = b -> attn.inputNorm().foldInto(b);
    INDArray[] qvk =
        keyDecoder == null
            ? project(decoder, foldIn, attn.wQ(), attn.wV(), attn.wK())
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
    if (attn.qNorm() != null) {
      // per head, before RoPE, as the model does; k is its own array even when it shares the SAE
      qkNorm.applyInPlace(q, c.dHead(), attn.qNorm(), c.normEps());
      qkNorm.applyInPlace(k, c.dHead(), attn.kNorm(), c.normEps());
    }
    return new HeadProjections(attn, q, k, v, p, keyDecoder == null, qkNorm);
  }

  // one size for the blocks and for the memory estimate that counts one folded block
  private static final int PROJECTION_BLOCK = MemoryEstimate.PROJECTION_BLOCK_ROWS;

  /**
   * {@code fold(X)·W_i} for each {@code W_i}, in row blocks of {@link #PROJECTION_BLOCK} rows; each
   * block is folded once and multiplied by every {@code W_i}.
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
        Nd4j.gemm(
            folded,
            ws[i],
            out[i].get(NDArrayIndex.interval(r0, r1), NDArrayIndex.all()),
            false,
            false,
            1.0,
            0.0);
      }
      folded.close();
    }
    return out;
  }

  /**
   * Output side: optional centring (TransformerLens's centred stream), then Gemma's post-attention
   * norm gain.
   */
  private static INDArray foldOutput(INDArray block, AttentionWeights attn, boolean center) {
    INDArray e = block.dup('c');
    if (center) {
      try (INDArray mean = e.mean(1)) {
        e.subiColumnVector(mean.reshape(e.rows(), 1));
      }
    }
    return attn.postAttnNorm() == null ? e : e.muliRowVector(attn.postAttnNorm().gain());
  }

  /** The layer's attention weights. */
  public AttentionWeights attention() {
    return attn;
  }

  /** The attention layer. */
  public int layer() {
    return attn.layer();
  }

  /** The model's configuration. */
  public ModelConfig config() {
    return attn.config();
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

  /** Whether the key side uses the query SAE (then QK self pairs i = j exist). */
  public boolean sameKeySae() {
    return sameQkSae;
  }

  /**
   * Head {@code h}'s circuit as a factored product of raw head blocks (views of the projections):
   * QK {@code Q_h·K_g(h)ᵀ} or OV {@code V_g(h)·P_hᵀ}. The same view objects come back for the same
   * blocks, so a workspace prepares a KV head shared by query heads once.
   */
  public FactoredProduct product(CircuitKind kind, int h) {
    INDArray[] s = rawSides(kind, h);
    return new FactoredProduct(s[0], s[1]);
  }

  /**
   * The two sides of one head's product, after the spec's variant (RoPE distance, cosine); closes
   * what it made.
   */
  static final class Operands implements AutoCloseable {
    final INDArray left;
    final INDArray right;
    private final List<INDArray> owned = new ArrayList<>();

    Operands(INDArray left, INDArray right, INDArray... owned) {
      this.left = left;
      this.right = right;
      this.owned.addAll(List.of(owned));
    }

    @Override
    public void close() {
      owned.forEach(INDArray::close);
    }
  }

  /**
   * Left side (query or value) and right side (key or output) of head h, raw: views of the
   * projections.
   */
  INDArray[] rawSides(CircuitKind kind, int h) {
    int dh = attn.config().dHead();
    int g = attn.config().kvHead(h);
    if (kind == CircuitKind.OV && p == null) {
      throw new IllegalArgumentException(
          "the OV circuit needs an output SAE (the SAE on the layer's output stream)");
    }
    // The same view object for the same head block: the engine then prepares a KV head's keys or
    // values once for
    // the query heads that share it.
    return kind == CircuitKind.QK
        ? new INDArray[] {view("q", q, h, dh), view("k", k, g, dh)}
        : new INDArray[] {view("v", v, g, dh), view("p", p, h, dh)};
  }

  private INDArray view(String name, INDArray m, int block, int dh) {
    return headViews.computeIfAbsent(name + block, kk -> headView(m, block, dh));
  }

  Operands operands(CircuitKind kind, int h, CircuitSpec spec) {
    INDArray[] s = rawSides(kind, h);
    List<INDArray> owned = new ArrayList<>();
    INDArray left = s[0];
    INDArray right = s[1];
    if (kind == CircuitKind.QK && spec.position() != null) {
      left = Rope.of(attn.config(), attn.layer(), spec.pairing()).rotateRows(left, spec.position());
      owned.add(left);
    }
    if (spec.cosine()) {
      left = unitRows(left);
      right = unitRows(right);
      owned.add(left);
      owned.add(right);
    }
    return new Operands(left, right, owned.toArray(new INDArray[0]));
  }

  /** Rows divided by their L2 norms (zero rows stay zero); a new c-order array. */
  static INDArray unitRows(INDArray x) {
    INDArray y = x.dup('c');
    try (INDArray n = y.norm2(1)) {
      float[] norms = n.toFloatVector();
      for (int i = 0; i < norms.length; i++) {
        norms[i] = norms[i] > 0 ? 1f / norms[i] : 0f;
      }
      try (INDArray inv = Nd4j.createFromArray(norms).reshape(norms.length, 1)) {
        y.muliColumnVector(inv);
      }
    }
    return y;
  }

  /**
   * Columns {@code [block·dh, (block+1)·dh)} of a fused projection (one head's block), as a strided
   * view.
   */
  public static INDArray headView(INDArray m, int block, int dh) {
    return m.get(
        NDArrayIndex.all(), NDArrayIndex.interval((long) block * dh, (long) (block + 1) * dh));
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
