package dev.saelab.magic;

import dev.saelab.labels.FeatureLabels;
import dev.saelab.model.ModelWeights;
import dev.saelab.api.FeatureTable;
import dev.saelab.sae.SaeDictionary;

/** What the magics remember between cells: the current model, layer, SAEs, labels and last table. */
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

  /** A one-paragraph description of what is loaded. */
  public String describe() {
    return String.join("\n",
        "model:      " + (model == null ? "-" : model.folder() + " (" + model.config().modelType() + ", "
            + model.config().nLayers() + " layers)"),
        "layer:      " + (layer == null ? "-" : layer),
        "sae in:     " + (saeIn == null ? "-" : saeIn.path()),
        "sae key:    " + (saeKey == null ? "(= sae in)" : saeKey.path()),
        "sae out:    " + (saeOut == null ? "-" : saeOut.path()),
        "labels in:  " + (labelsIn == null ? "-" : labelsIn.origin()),
        "labels out: " + (labelsOut == null ? "-" : labelsOut.origin()),
        "last table: " + (lastTable == null ? "-" : lastTable.size() + " rows"));
  }
}
