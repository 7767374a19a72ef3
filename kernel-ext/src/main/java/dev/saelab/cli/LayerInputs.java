package dev.saelab.cli;

import dev.saelab.hub.Sources;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.LabelMatch;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import java.util.function.Consumer;

/**
 * The command line's {@link Layer}: opens what the {@link InputOptions} name, checks the layer and
 * that each label set belongs to its SAE, and closes everything.
 */
final class LayerInputs implements Layer, AutoCloseable {
  private final ModelWeights model;
  private final int layer;
  private final SaeDictionary in;
  private final SaeDictionary key;
  private final SaeDictionary out;
  private final FeatureLabels labelsIn;
  private final FeatureLabels labelsKey;
  private final FeatureLabels labelsOut;

  private LayerInputs(ModelWeights model, int layer, SaeDictionary[] saes, FeatureLabels[] labels) {
    this.model = model;
    this.layer = layer;
    this.in = saes[0];
    this.key = saes[1];
    this.out = saes[2];
    this.labelsIn = labels[0];
    this.labelsKey = labels[1];
    this.labelsOut = labels[2];
  }

  /**
   * Opens the inputs; {@code needIn}/{@code needOut}: whether {@code --sae-in}/{@code --sae-out}
   * are required. Labels that cannot be confirmed to fit their SAE warn through {@code warnings}.
   */
  static LayerInputs open(
      InputOptions o, boolean needIn, boolean needOut, Consumer<String> warnings) {
    if (o.model() == null) {
      throw new IllegalArgumentException("needs --model MODEL");
    }
    if (o.layer() == null) {
      throw new IllegalArgumentException("needs --layer L");
    }
    if (needIn && o.sae("in") == null) {
      throw new IllegalArgumentException(
          "needs --sae-in SAE (the SAE on the layer's input stream)");
    }
    if (needOut && o.sae("out") == null) {
      throw new IllegalArgumentException(
          "needs --sae-out SAE (the SAE on the layer's output stream)");
    }
    Sources src = Sources.fromEnvironment();
    String[] roles = {"in", "key", "out"};
    FeatureLabels[] labels = new FeatureLabels[3];
    for (int i = 0; i < 3; i++) {
      String p = o.labels(roles[i]);
      labels[i] = p == null ? null : NeuronpediaLabels.read(src.labels(p));
    }
    int layer = o.layer();
    ModelWeights m = ModelWeights.open(src.model(o.model(), layer));
    SaeDictionary[] saes = new SaeDictionary[3];
    try {
      checkLayer(m, layer);
      for (int i = 0; i < 3; i++) {
        String p = o.sae(roles[i]);
        saes[i] = p == null ? null : SaeDictionary.open(src.sae(p, Sources.matricesFor(roles[i])));
      }
      for (int i = 0; i < 3; i++) {
        LabelMatch.require(labels[i], saes[i] == null && i == 1 ? saes[0] : saes[i], warnings);
      }
      return new LayerInputs(m, layer, saes, labels);
    } catch (RuntimeException e) {
      closeAll(saes[2], saes[1], saes[0], m);
      throw e;
    }
  }

  /** One line naming the layer range when {@code layer} is not in the model. */
  static void checkLayer(ModelWeights m, int layer) {
    int n = m.config().nLayers();
    if (layer < 0 || layer >= n) {
      throw new IllegalArgumentException(
          "--layer " + layer + ": the model has layers 0.." + (n - 1));
    }
  }

  @Override
  public ModelWeights model() {
    return model;
  }

  @Override
  public int layer() {
    return layer;
  }

  @Override
  public SaeDictionary saeIn() {
    return in;
  }

  @Override
  public SaeDictionary saeKey() {
    return key;
  }

  @Override
  public SaeDictionary saeOut() {
    return out;
  }

  @Override
  public FeatureLabels labelsIn() {
    return labelsIn;
  }

  @Override
  public FeatureLabels labelsKey() {
    return labelsKey;
  }

  @Override
  public FeatureLabels labelsOut() {
    return labelsOut;
  }

  @Override
  public void close() {
    closeAll(out, key, in, model);
  }

  private static void closeAll(AutoCloseable... cs) {
    for (AutoCloseable c : cs) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception ignored) {
        // closing what was opened; the first failure is what the user sees
      }
    }
  }
}
