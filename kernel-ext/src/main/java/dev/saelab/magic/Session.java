package dev.saelab.magic;

import dev.saelab.api.FeatureTable;
import dev.saelab.cli.InputOptions;
import dev.saelab.cli.Layer;
import dev.saelab.hub.Sources;
import dev.saelab.io.Backend;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.linalg.Screen;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;

/**
 * What the magics remember between cells: the current model, layer, SAEs, labels and last table.
 * The loading flags of any magic ({@code --model}, {@code --sae-in}, ...) load and remember here.
 */
public final class Session {
  ModelWeights model;
  Integer layer;
  SaeDictionary saeIn;
  SaeDictionary saeKey;
  SaeDictionary saeOut;
  FeatureLabels labelsIn;
  FeatureLabels labelsKey;
  FeatureLabels labelsOut;
  FeatureTable lastTable;

  /** Forgets everything. */
  void reset() {
    model = null;
    layer = null;
    saeIn = saeKey = saeOut = null;
    labelsIn = labelsKey = labelsOut = null;
    lastTable = null;
  }

  /** Loads and remembers what the flags name; returns the last object loaded (or null). */
  Object load(InputOptions o) {
    Sources src = Sources.fromEnvironment();
    Object last = null;
    if (o.model() != null) {
      ModelWeights m =
          ModelWeights.open(src.model(o.model(), o.layer() != null ? o.layer() : layer));
      model = m;
      last = m;
    }
    if (o.layer() != null) {
      if (model == null) {
        throw new MagicUsageException("no model loaded (use %model PATH or --model PATH)");
      }
      checkLayer(model, o.layer());
      layer = o.layer();
    }
    for (String role : new String[] {"in", "key", "out"}) {
      if (o.sae(role) != null) {
        SaeDictionary s = SaeDictionary.open(src.sae(o.sae(role), Sources.matricesFor(role)));
        switch (role) {
          case "in" -> saeIn = s;
          case "key" -> saeKey = s;
          default -> saeOut = s;
        }
        last = s;
      }
    }
    for (String role : new String[] {"in", "key", "out"}) {
      if (o.labels(role) != null) {
        FeatureLabels l = NeuronpediaLabels.read(src.labels(o.labels(role)));
        switch (role) {
          case "in" -> labelsIn = l;
          case "key" -> labelsKey = l;
          default -> labelsOut = l;
        }
        last = l;
      }
    }
    return last;
  }

  /** The layer a magic works on, after loading what its flags name. */
  Layer layerFor(InputOptions o) {
    load(o);
    if (model == null) {
      throw new MagicUsageException(
          "no model loaded (use %model PATH --layer L, or --model PATH --layer L)");
    }
    if (layer == null) {
      throw new MagicUsageException("which layer? (--layer L, or %model PATH --layer L)");
    }
    return new Snapshot(model, layer, saeIn, saeKey, saeOut, labelsIn, labelsKey, labelsOut);
  }

  static void checkLayer(ModelWeights m, int layer) {
    int n = m.config().nLayers();
    if (layer < 0 || layer >= n) {
      throw new MagicUsageException("--layer " + layer + ": the model has layers 0.." + (n - 1));
    }
  }

  /** The session's state when a magic ran. */
  private record Snapshot(
      ModelWeights model,
      int layer,
      SaeDictionary saeIn,
      SaeDictionary saeKey,
      SaeDictionary saeOut,
      FeatureLabels labelsIn,
      FeatureLabels labelsKey,
      FeatureLabels labelsOut)
      implements Layer {}

  /** A one-paragraph description of what is loaded. */
  public String describe() {
    return String.join(
        "\n",
        "model:      "
            + (model == null
                ? "-"
                : model.folder()
                    + " ("
                    + model.config().modelType()
                    + ", "
                    + model.config().nLayers()
                    + " layers)"),
        "layer:      " + (layer == null ? "-" : layer),
        "sae in:     " + (saeIn == null ? "-" : saeIn.path()),
        "sae key:    " + (saeKey == null ? "(= sae in)" : saeKey.path()),
        "sae out:    " + (saeOut == null ? "-" : saeOut.path()),
        "labels in:  " + (labelsIn == null ? "-" : labelsIn.origin()),
        "labels key: " + (labelsKey == null ? "-" : labelsKey.origin()),
        "labels out: " + (labelsOut == null ? "-" : labelsOut.origin()),
        "last table: " + (lastTable == null ? "-" : lastTable.size() + " rows"),
        "backend:    ND4J native " + Backend.describe() + "; tile screen " + Screen.auto());
  }
}
