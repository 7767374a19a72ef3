package dev.saelab.model;

/**
 * How a layer normalises its input, which decides how SAE directions are folded into the weights.
 */
public enum NormKind {
  /** Gemma RMSNorm: {@code x / rms(x) * (1 + w)}; the stored weight is an offset from 1. */
  RMS_ONE_PLUS,
  /** Llama-family RMSNorm: {@code x / rms(x) * w}. */
  RMS,
  /**
   * GPT-2 LayerNorm: {@code (x - mean(x)) / std(x) * w + b}: directions are centred, then scaled.
   */
  LAYER
}
