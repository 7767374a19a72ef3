package dev.saelab.circuits;

import java.util.Locale;

/**
 * One part of a residual row in an attribution (kernel-ext/docs/math.md §16): the row is {@code x_t
 * = Σ_i a_{t,i}·d_i + b_dec + ε_t}, and the layer adds its own biases after the projection.
 */
public enum AttributionPart {
  /** The active SAE features {@code Σ_i a_{t,i}·d_i}. */
  FEATURES,
  /** The SAE's decoder bias {@code b_dec}. */
  B_DEC,
  /** The SAE's reconstruction error {@code ε_t = x_t − Σ_i a_{t,i}·d_i − b_dec}. */
  ERROR,
  /**
   * The layer's biases after the projection: {@code b_Q}, {@code b_K} or {@code b_V} plus a
   * LayerNorm bias folded through the projection ({@code b̃ = b + b_ln·W}).
   */
  BIAS;

  /** {@code features}, {@code b_dec}, {@code error} or {@code bias}. */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }
}
