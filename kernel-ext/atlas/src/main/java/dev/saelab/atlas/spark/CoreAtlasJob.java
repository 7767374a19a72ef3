package dev.saelab.atlas.spark;

import dev.saelab.atlas.AtlasInputs;
import dev.saelab.atlas.AtlasPlan;
import dev.saelab.atlas.AtlasRows;
import dev.saelab.atlas.AtlasSpec;
import dev.saelab.atlas.AtlasTables;
import dev.saelab.atlas.UnitMerge;
import dev.saelab.atlas.UnitResult;
import dev.saelab.atlas.UnitRunner;
import dev.saelab.atlas.WorkUnit;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.labels.FeatureLabels;
import java.io.Serializable;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The atlas of the core ({@link dev.saelab.atlas}) as a {@link UnitJob}: the plan's work units,
 * each run by {@link UnitRunner} on an executor (which opens the model and SAE files itself, once
 * per layer and JVM), merged per output partition by {@link UnitMerge}, written as {@link
 * AtlasTables} rows with the labels joined when the spec names them. What is broadcast is the spec
 * and each layer's shape; the unit list stays on the driver.
 */
final class CoreAtlasJob implements UnitJob<WorkUnit, UnitResult> {
  private static final long serialVersionUID = 1L;

  /** Labels per (spec, layer), loaded once per executor JVM. */
  private static final Map<String, FeatureLabels[]> LABELS = new ConcurrentHashMap<>();

  /**
   * A layer's shape, serializable ({@link AtlasInputs.LayerShape} is not).
   *
   * @param layer the layer
   * @param nIn input SAE width
   * @param nOut output SAE width (0: none)
   * @param saeIn resolved input SAE
   * @param saeOut resolved output SAE, or null
   */
  record Layer(int layer, long nIn, long nOut, String saeIn, String saeOut)
      implements Serializable {
    AtlasInputs.LayerShape shape() {
      return new AtlasInputs.LayerShape(layer, nIn, nOut, saeIn, saeOut);
    }
  }

  private final AtlasSpec spec;
  private final HashMap<Integer, Layer> layers = new HashMap<>();
  private final transient List<WorkUnit> units;

  CoreAtlasJob(AtlasPlan plan, List<WorkUnit> units) {
    this.spec = plan.spec();
    for (AtlasInputs.LayerShape s : plan.shape().layers()) {
      layers.put(s.layer(), new Layer(s.layer(), s.nIn(), s.nOut(), s.saeIn(), s.saeOut()));
    }
    this.units = units;
  }

  @Override
  public List<WorkUnit> units() {
    return units;
  }

  @Override
  public String key(WorkUnit u) {
    return u.partitionKey();
  }

  @Override
  public String kind(WorkUnit u) {
    return u.part() + "-" + u.circuit().id();
  }

  @Override
  public String id(WorkUnit u) {
    return u.id();
  }

  /**
   * Test hook: milliseconds each unit sleeps first (system property {@code
   * saelab.atlas.testUnitDelayMs} of the executor JVM), so that a test can kill a worker while
   * units are in flight. 0 (no delay) unless set.
   */
  static final long TEST_UNIT_DELAY_MS = Long.getLong("saelab.atlas.testUnitDelayMs", 0);

  @Override
  public UnitResult run(WorkUnit u) {
    if (TEST_UNIT_DELAY_MS > 0) {
      try {
        Thread.sleep(TEST_UNIT_DELAY_MS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.util.concurrent.CancellationException("interrupted");
      }
    }
    return UnitRunner.run(spec, u);
  }

  @Override
  public UnitResult merge(UnitResult a, UnitResult b) {
    return UnitMerge.merge(a, b);
  }

  @Override
  public List<AtlasRows> rows(String key, UnitResult merged) {
    WorkUnit u = merged.unit();
    Layer l = layers.get(u.layer());
    if (u.part() == WorkUnit.Part.TABLE && merged.rowsCovered() != l.nIn()) {
      throw new IllegalStateException(
          key + ": merged " + merged.rowsCovered() + " of " + l.nIn() + " rows");
    }
    FeatureLabels[] labels =
        LABELS.computeIfAbsent(
            spec.hashCode() + ":" + spec + ":" + u.layer(),
            k -> AtlasInputs.labels(spec, l.shape(), w -> {}));
    FeatureLabels cols = u.circuit() == CircuitKind.QK ? labels[0] : labels[1];
    return AtlasTables.rows(merged, labels[0], cols, spec.labels() != null);
  }
}
