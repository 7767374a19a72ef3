package dev.saelab.cli;

import dev.saelab.labels.FeatureLabels;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;

/**
 * What an analysis command works on: one layer of a model and the dictionaries (and labels) of its
 * streams. The command line opens it from the {@link InputOptions} flags; a magic takes it from its
 * session, where those same flags load and remember.
 */
public interface Layer {
  /** The model. */
  ModelWeights model();

  /** The layer index. */
  int layer();

  /**
   * The SAE on the layer's input stream (query and value side, and key side unless {@link
   * #saeKey()}); or null.
   */
  SaeDictionary saeIn();

  /** A different SAE (same stream) for the key side, or null. */
  SaeDictionary saeKey();

  /** The SAE on the layer's output stream (OV output side), or null. */
  SaeDictionary saeOut();

  /** Labels of the input SAE's features, or null. */
  FeatureLabels labelsIn();

  /** Labels of the key SAE's features, or null. */
  FeatureLabels labelsKey();

  /** Labels of the output SAE's features, or null. */
  FeatureLabels labelsOut();

  /** The key-side SAE: {@link #saeKey()}, else {@link #saeIn()}. */
  default SaeDictionary keySae() {
    return saeKey() == null ? saeIn() : saeKey();
  }

  /** Labels of the key side: {@link #labelsKey()} with a key SAE, else {@link #labelsIn()}. */
  default FeatureLabels keyLabels() {
    return saeKey() == null ? labelsIn() : labelsKey();
  }

  /** The input SAE, or a one-line error naming the flag that gives it. */
  default SaeDictionary requireSaeIn() {
    if (saeIn() == null) {
      throw new IllegalArgumentException("needs --sae-in (the SAE on the layer's input stream)");
    }
    return saeIn();
  }

  /** The output SAE, or a one-line error naming the flag that gives it. */
  default SaeDictionary requireSaeOut(String why) {
    if (saeOut() == null) {
      throw new IllegalArgumentException(
          why + " needs --sae-out (the SAE on the layer's output stream)");
    }
    return saeOut();
  }
}
