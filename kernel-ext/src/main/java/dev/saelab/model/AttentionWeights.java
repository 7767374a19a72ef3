package dev.saelab.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One layer's attention weights, fused across heads in the right-multiplying convention ({@code q =
 * x · W}): {@code wQ [d_model, n_heads·d_head]}, {@code wK}/{@code wV [d_model,
 * n_kv_heads·d_head]}, {@code wO [n_heads·d_head, d_model]}. Head h occupies columns (rows for wO)
 * {@code [h·d_head, (h+1)·d_head)}. TransformerLens-layout views are {@link #W_Q()}, {@link
 * #W_K()}, {@link #W_V()}, {@link #W_O()}.
 *
 * @param layer layer index
 * @param config the model's config
 * @param wQ fused query projection
 * @param wK fused key projection
 * @param wV fused value projection
 * @param wO fused output projection
 * @param bQ query bias {@code [n_heads·d_head]} or null
 * @param bK key bias or null
 * @param bV value bias or null
 * @param bO output bias {@code [d_model]} or null
 * @param inputNorm the norm before attention
 * @param postAttnNorm the norm applied to attention output before the residual (Gemma 2), or null
 * @param qNorm the per-head norm of queries before RoPE, gain over d_head ({@code q_norm}: Gemma 3,
 *     Qwen3), or null
 * @param kNorm the per-head norm of keys before RoPE ({@code k_norm}), or null
 */
@SuppressWarnings("checkstyle:MethodName")
public record AttentionWeights(
    int layer,
    ModelConfig config,
    INDArray wQ,
    INDArray wK,
    INDArray wV,
    INDArray wO,
    INDArray bQ,
    INDArray bK,
    INDArray bV,
    INDArray bO,
    Norm inputNorm,
    Norm postAttnNorm,
    Norm qNorm,
    Norm kNorm) {

  /** Attention without q/k norms. */
  public AttentionWeights(
      int layer,
      ModelConfig config,
      INDArray wQ,
      INDArray wK,
      INDArray wV,
      INDArray wO,
      INDArray bQ,
      INDArray bK,
      INDArray bV,
      INDArray bO,
      Norm inputNorm,
      Norm postAttnNorm) {
    this(layer, config, wQ, wK, wV, wO, bQ, bK, bV, bO, inputNorm, postAttnNorm, null, null);
  }

  /** {@code W_Q [n_heads, d_model, d_head]} (TransformerLens layout; a view). */
  public INDArray W_Q() {
    return wQ.reshape('c', config.dModel(), config.nHeads(), config.dHead()).permute(1, 0, 2);
  }

  /** {@code W_K [n_kv_heads, d_model, d_head]}. */
  public INDArray W_K() {
    return wK.reshape('c', config.dModel(), config.nKvHeads(), config.dHead()).permute(1, 0, 2);
  }

  /** {@code W_V [n_kv_heads, d_model, d_head]}. */
  public INDArray W_V() {
    return wV.reshape('c', config.dModel(), config.nKvHeads(), config.dHead()).permute(1, 0, 2);
  }

  /** {@code W_O [n_heads, d_head, d_model]}. */
  public INDArray W_O() {
    return wO.reshape('c', config.nHeads(), config.dHead(), config.dModel());
  }

  /** The head label used everywhere, e.g. {@code L13H4}. */
  public String headName(int h) {
    return "L" + layer + "H" + h;
  }

  /** Which of the biases Q, K, V, O are present, e.g. {@code "Q K V O"}, or {@code "none"}. */
  public String biases() {
    String b =
        (bQ != null ? " Q" : "")
            + (bK != null ? " K" : "")
            + (bV != null ? " V" : "")
            + (bO != null ? " O" : "");
    return b.isEmpty() ? "none" : b.substring(1);
  }

  /**
   * One line: layer, head layout and the fused shapes (the record's default would print every
   * weight).
   */
  @Override
  public String toString() {
    return "AttentionWeights L"
        + layer
        + " ("
        + config.modelType()
        + "): n_heads="
        + config.nHeads()
        + " n_kv_heads="
        + config.nKvHeads()
        + " d_head="
        + config.dHead()
        + " d_model="
        + config.dModel()
        + ", W_Q "
        + java.util.Arrays.toString(wQ.shape())
        + " W_K "
        + java.util.Arrays.toString(wK.shape())
        + " W_V "
        + java.util.Arrays.toString(wV.shape())
        + " W_O "
        + java.util.Arrays.toString(wO.shape())
        + ", biases "
        + biases()
        + ", input norm "
        + inputNorm.kind()
        + (postAttnNorm != null ? ", post-attention norm" : "")
        + (qNorm != null ? ", q_norm/k_norm " + qNorm.kind() : "");
  }
}
