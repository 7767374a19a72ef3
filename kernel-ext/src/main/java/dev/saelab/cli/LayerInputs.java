package dev.saelab.cli;

import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.LabelMatch;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;

/**
 * The loading flags the analysis commands share: {@code --model}, {@code --layer}, {@code --sae-in} (alias
 * {@code --sae}), {@code --sae-key}, {@code --sae-out}, {@code --labels-in}, {@code --labels-out}. Opens what is
 * given, checks the layer, closes everything.
 */
final class LayerInputs implements AutoCloseable {
  /** Value options every analysis command accepts. */
  static final java.util.List<String> OPTIONS = java.util.List.of("--model", "--layer", "--sae-in", "--sae",
      "--sae-key", "--sae-out", "--labels-in", "--labels-out");

  final ModelWeights model;
  final int layer;
  final SaeDictionary in;
  final SaeDictionary key;
  final SaeDictionary out;
  final FeatureLabels labelsIn;
  final FeatureLabels labelsOut;

  private LayerInputs(ModelWeights model, int layer, SaeDictionary in, SaeDictionary key, SaeDictionary out,
      FeatureLabels labelsIn, FeatureLabels labelsOut) {
    this.model = model;
    this.layer = layer;
    this.in = in;
    this.key = key;
    this.out = out;
    this.labelsIn = labelsIn;
    this.labelsOut = labelsOut;
  }

  /** Opens the inputs named in {@code a}; {@code needIn}/{@code needOut}: whether the input/output SAE is required. */
  static LayerInputs open(Args a, boolean needIn, boolean needOut) {
    return open(a, needIn, needOut, System.err::println);
  }

  /** As {@link #open(Args, boolean, boolean)}; labels that cannot be confirmed to fit their SAE warn here. */
  static LayerInputs open(Args a, boolean needIn, boolean needOut, java.util.function.Consumer<String> warnings) {
    a.require("--model");
    a.require("--layer");
    int layer = a.intValue("--layer", -1);
    String inPath = a.get("--sae-in", a.get("--sae", null));
    if (needIn && inPath == null) {
      a.require("--sae-in");
    }
    if (needOut) {
      a.require("--sae-out");
    }
    dev.saelab.hub.Sources src = dev.saelab.hub.Sources.fromEnvironment();
    FeatureLabels li = a.has("--labels-in") ? NeuronpediaLabels.read(src.labels(a.get("--labels-in", ""))) : null;
    FeatureLabels lo = a.has("--labels-out") ? NeuronpediaLabels.read(src.labels(a.get("--labels-out", ""))) : null;
    ModelWeights m = ModelWeights.open(src.model(a.get("--model", ""), layer));
    SaeDictionary in = null;
    SaeDictionary key = null;
    SaeDictionary out = null;
    try {
      int n = m.config().nLayers();
      if (layer < 0 || layer >= n) {
        throw new IllegalArgumentException("--layer " + layer + ": the model has layers 0.." + (n - 1));
      }
      in = inPath == null ? null : SaeDictionary.open(src.sae(inPath));
      key = a.has("--sae-key") ? SaeDictionary.open(src.sae(a.get("--sae-key", ""))) : null;
      out = a.has("--sae-out") ? SaeDictionary.open(src.sae(a.get("--sae-out", ""))) : null;
      LabelMatch.require(li, in, warnings);
      LabelMatch.require(lo, out, warnings);
      return new LayerInputs(m, layer, in, key, out, li, lo);
    } catch (RuntimeException e) {
      for (AutoCloseable c : new AutoCloseable[] {out, key, in, m}) {
        try {
          if (c != null) {
            c.close();
          }
        } catch (Exception ignored) {
          // already failing
        }
      }
      throw e;
    }
  }

  /** The key-side SAE: {@code --sae-key}, else the input SAE. */
  SaeDictionary keySae() {
    return key == null ? in : key;
  }

  @Override
  public void close() {
    if (out != null) {
      out.close();
    }
    if (key != null) {
      key.close();
    }
    if (in != null) {
      in.close();
    }
    model.close();
  }
}
