package dev.saelab.cli;

import dev.saelab.model.ModelWeights;

/**
 * A forward-pass command that is also a magic ({@code %attention}): on the command line it opens
 * {@code --model}; in a notebook it runs on the session's model (or {@code --model}) and returns
 * what the Java API returns.
 */
public interface ForwardShared {
  /** The input options ({@code --model}, {@code --token-ids}, {@code --text}). */
  ForwardOptions input();

  /**
   * What the magic returns, on {@code model}; {@code sessionLayer}: the session's layer or null.
   */
  Object result(ModelWeights model, Integer sessionLayer) throws Exception;

  /**
   * As {@link #result(ModelWeights, Integer)}, also given the session's SAE on the layer's input
   * stream ({@code %sae}), or null; commands that need an SAE use it when no flag names one.
   */
  default Object result(
      ModelWeights model, Integer sessionLayer, dev.saelab.sae.SaeDictionary sessionSae)
      throws Exception {
    return result(model, sessionLayer);
  }
}
