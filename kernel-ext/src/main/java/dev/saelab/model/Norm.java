package dev.saelab.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A norm as it acts on a direction: {@code kind}, the effective scale {@code gain [d_model]} (for
 * Gemma already {@code 1 + w}) and an optional {@code bias [d_model]} (LayerNorm).
 *
 * @param kind the norm kind
 * @param gain effective per-dimension scale
 * @param bias additive bias, or null
 */
public record Norm(NormKind kind, INDArray gain, INDArray bias) {
  /**
   * Applies the norm's linear part to rows of {@code x [n, d_model]}: centre for LayerNorm, then
   * scale.
   */
  public INDArray foldInto(INDArray x) {
    INDArray y = x.dup('c');
    if (kind == NormKind.LAYER) {
      try (INDArray mean = y.mean(1)) {
        y.subiColumnVector(mean.reshape(y.rows(), 1));
      }
    }
    return y.muliRowVector(gain);
  }
}
