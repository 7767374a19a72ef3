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
   * What a notebook session has loaded besides its model ({@code %model --layer}, {@code %sae},
   * {@code %labels}); any may be null.
   *
   * @param layer the session's layer
   * @param saeIn the SAE on the layer's input stream
   * @param saeOut the SAE on the layer's output stream
   * @param labelsIn labels of saeIn
   * @param labelsOut labels of saeOut
   */
  record Session(
      Integer layer,
      dev.saelab.sae.SaeDictionary saeIn,
      dev.saelab.sae.SaeDictionary saeOut,
      dev.saelab.labels.FeatureLabels labelsIn,
      dev.saelab.labels.FeatureLabels labelsOut) {}

  /**
   * As {@link #result(ModelWeights, Integer)}, also given what the session has loaded; commands
   * that need an SAE or labels use the session's when no flag names one.
   */
  default Object result(ModelWeights model, Session session) throws Exception {
    return result(model, session.layer());
  }
}
