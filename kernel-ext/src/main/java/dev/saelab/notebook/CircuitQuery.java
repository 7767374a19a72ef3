package dev.saelab.notebook;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitSpec;
import dev.saelab.circuits.CircuitTable;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.Progress;
import dev.saelab.circuits.RankBy;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import java.util.EnumSet;
import java.util.List;

/**
 * Everything {@code saelab tables} can do, as a fluent call: choose the layer's SAEs, labels and options, then ask for
 * {@link #qk()}, {@link #ov()} or {@link #both()}.
 *
 * <pre>
 * FeatureTable ov = SaeLab.circuits(model, 13).saeIn(sae12).saeOut(sae13)
 *     .labelsIn(labels12).labelsOut(labels13).heads(0, 7).top(1000).ov();
 * </pre>
 */
public final class CircuitQuery {
  private final ModelWeights model;
  private final int layer;
  private SaeDictionary saeIn;
  private SaeDictionary saeKey;
  private SaeDictionary saeOut;
  private FeatureLabels labelsIn;
  private FeatureLabels labelsKey;
  private FeatureLabels labelsOut;
  private CircuitSpec spec = CircuitSpec.defaults();
  private Progress progress;

  /** A query on one layer of a model. */
  public CircuitQuery(ModelWeights model, int layer) {
    if (model == null) {
      throw new IllegalArgumentException("no model loaded (SaeLab.model(path) or %model PATH)");
    }
    int n = model.config().nLayers();
    if (layer < 0 || layer >= n) {
      throw new IllegalArgumentException("layer " + layer + ": the model has layers 0.." + (n - 1));
    }
    this.model = model;
    this.layer = layer;
  }

  /** The SAE on the layer's input stream: query and value side (and key side unless {@link #saeKey}). */
  public CircuitQuery saeIn(SaeDictionary s) {
    this.saeIn = s;
    return this;
  }

  /** A different SAE (same stream) for the key side. */
  public CircuitQuery saeKey(SaeDictionary s) {
    this.saeKey = s;
    return this;
  }

  /** The SAE on the layer's output stream (OV output side). */
  public CircuitQuery saeOut(SaeDictionary s) {
    this.saeOut = s;
    return this;
  }

  /** Labels of the input SAE's features. */
  public CircuitQuery labelsIn(FeatureLabels l) {
    this.labelsIn = l;
    return this;
  }

  /** Labels of the key SAE's features (when {@link #saeKey} differs). */
  public CircuitQuery labelsKey(FeatureLabels l) {
    this.labelsKey = l;
    return this;
  }

  /** Labels of the output SAE's features. */
  public CircuitQuery labelsOut(FeatureLabels l) {
    this.labelsOut = l;
    return this;
  }

  /** Only these query heads (default: all). */
  public CircuitQuery heads(int... heads) {
    spec = spec.withHeads(heads.length == 0 ? null : heads);
    return this;
  }

  /** Entries per head (default 1000). */
  public CircuitQuery top(int k) {
    spec = spec.withTopK(k);
    return this;
  }

  /** Ranking: "abs" (default), "value" or "-value". */
  public CircuitQuery rankBy(String r) {
    spec = spec.withRankBy(RankBy.parse(r));
    return this;
  }

  /** Leave out self pairs (query feature = key feature). */
  public CircuitQuery excludeSelf() {
    spec = spec.withExcludeSelf(true);
    return this;
  }

  /** Scale QK values by the model's query scale (1/√d_head, Gemma's query_pre_attn_scalar). */
  public CircuitQuery queryScale() {
    spec = spec.withQueryScale(true);
    return this;
  }

  /** Turns exact norm-bound pruning off (it never changes results; for comparison only). */
  public CircuitQuery noPrune() {
    spec = spec.withPrune(false);
    return this;
  }

  /** Progress reporter (default: a progress bar in a notebook, nothing elsewhere). */
  public CircuitQuery progress(Progress p) {
    this.progress = p;
    return this;
  }

  /** The QK tables. */
  public FeatureTable qk() {
    return run(EnumSet.of(CircuitKind.QK));
  }

  /** The OV tables (needs {@link #saeOut}). */
  public FeatureTable ov() {
    return run(EnumSet.of(CircuitKind.OV));
  }

  /** QK and OV in one pass, sharing the projections. */
  public FeatureTable both() {
    return run(EnumSet.allOf(CircuitKind.class));
  }

  /** The projections themselves, for plots and drill-down; close it when done. */
  public FeatureCircuits open() {
    requireSaeIn();
    return FeatureCircuits.of(model.attention(layer), saeIn, saeKey == null ? saeIn : saeKey, saeOut);
  }

  private void requireSaeIn() {
    if (saeIn == null) {
      throw new IllegalArgumentException("no input SAE (saeIn(...) or %sae PATH)");
    }
  }

  private FeatureTable run(EnumSet<CircuitKind> kinds) {
    requireSaeIn();
    if (kinds.contains(CircuitKind.OV) && saeOut == null) {
      throw new IllegalArgumentException("the OV circuit needs the SAE on the layer's output (saeOut(...) or"
          + " %sae --out PATH)");
    }
    Progress p = progress != null ? progress : Notebook.progress();
    List<CircuitTable> tables;
    try (FeatureCircuits fc = FeatureCircuits.of(model.attention(layer), saeIn, saeKey == null ? saeIn : saeKey,
        kinds.contains(CircuitKind.OV) ? saeOut : null)) {
      tables = fc.compute(spec.withKinds(kinds), p);
    }
    return new FeatureTable(tables, labelsIn, saeKey == null ? labelsIn : labelsKey, labelsOut);
  }
}
