package dev.saelab.atlas;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.MemoryEstimate;
import dev.saelab.linalg.FactoredProduct;
import dev.saelab.model.ModelConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The work units of an atlas in a fixed order: for each layer, QK then OV, each head, row blocks in
 * order; then, with summaries, the layer's summed circuits and spectra. The same spec and shapes
 * always give the same units with the same ids, so shards ({@link #shard}) on different machines
 * split one plan.
 */
public final class AtlasPlan {
  /**
   * Off-heap budget for the default rows per unit: the unit's operand copies and tile ({@link
   * MemoryEstimate#tables}) stay under 512 MiB where the shapes allow.
   */
  public static final long UNIT_BUDGET_BYTES = 512L << 20;

  private final AtlasSpec spec;
  private final AtlasInputs.Shape shape;
  private final List<WorkUnit> units;

  private AtlasPlan(AtlasSpec spec, AtlasInputs.Shape shape, List<WorkUnit> units) {
    this.spec = spec;
    this.shape = shape;
    this.units = Collections.unmodifiableList(units);
  }

  /** The plan of {@code spec}, reading the shapes it needs ({@link AtlasInputs#shape}). */
  public static AtlasPlan open(AtlasSpec spec, Consumer<String> warnings) {
    return of(spec, AtlasInputs.shape(spec, warnings));
  }

  /** The plan of {@code spec} on {@code shape}: the units in their fixed order. */
  public static AtlasPlan of(AtlasSpec spec, AtlasInputs.Shape shape) {
    ModelConfig c = shape.config();
    List<WorkUnit> units = new ArrayList<>();
    for (AtlasInputs.LayerShape ls : shape.layers()) {
      for (CircuitKind kind : List.of(CircuitKind.QK, CircuitKind.OV)) {
        if (!has(spec, ls, kind)) {
          continue;
        }
        long n = ls.nIn();
        long cols = kind == CircuitKind.QK ? ls.nIn() : ls.nOut();
        int step = spec.rowsPerUnit() > 0 ? spec.rowsPerUnit() : defaultRows(c, n, cols);
        for (int h = 0; h < c.nHeads(); h++) {
          for (long r0 = 0; r0 < n; r0 += step) {
            int r1 = (int) Math.min(n, r0 + step);
            units.add(new WorkUnit(WorkUnit.Part.TABLE, ls.layer(), h, kind, (int) r0, r1));
          }
        }
      }
      if (spec.summaries()) {
        for (CircuitKind kind : List.of(CircuitKind.QK, CircuitKind.OV)) {
          if (has(spec, ls, kind)) {
            units.add(new WorkUnit(WorkUnit.Part.SUM, ls.layer(), -1, kind, 0, 0));
            units.add(new WorkUnit(WorkUnit.Part.SPECTRA, ls.layer(), -1, kind, 0, 0));
          }
        }
      }
    }
    if (units.isEmpty()) {
      throw new IllegalArgumentException(
          "atlas of " + spec.model() + ": nothing to compute (no layer has the SAEs it needs)");
    }
    return new AtlasPlan(spec, shape, units);
  }

  private static boolean has(AtlasSpec spec, AtlasInputs.LayerShape ls, CircuitKind kind) {
    return spec.circuits().contains(kind) && (kind == CircuitKind.QK || ls.nOut() > 0);
  }

  /**
   * The default rows per unit for an {@code nRows × nCols} product: the largest of 16384, 8192,
   * 4096, 2048 rows whose operand copies and tile fit {@link #UNIT_BUDGET_BYTES} (2048 when none
   * does: the column side alone is then over the budget), at most {@code nRows}. Depends on the
   * shapes only, so every machine plans the same units.
   */
  public static int defaultRows(ModelConfig c, long nRows, long nCols) {
    int tr = FactoredProduct.FP32_TILE_ROWS;
    int tc = FactoredProduct.FP32_TILE_COLS;
    int rows = tr;
    for (int r = 8 * tr; r >= tr; r /= 2) {
      if (MemoryEstimate.tables(c, r, nCols, tr, tc) <= UNIT_BUDGET_BYTES) {
        rows = r;
        break;
      }
    }
    return (int) Math.max(1, Math.min(nRows, rows));
  }

  /** The spec. */
  public AtlasSpec spec() {
    return spec;
  }

  /** The shapes the plan was made from. */
  public AtlasInputs.Shape shape() {
    return shape;
  }

  /** Every unit, in the plan's order. */
  public List<WorkUnit> units() {
    return units;
  }

  /** Units {@code i, i+n, i+2n, ...} of the plan (shard i of n, 0-based). */
  public List<WorkUnit> shard(int i, int n) {
    if (n < 1 || i < 0 || i >= n) {
      throw new IllegalArgumentException(
          "shard " + i + "/" + n + ": expected 0 ≤ i < n (shard i of n machines)");
    }
    List<WorkUnit> out = new ArrayList<>();
    for (int u = i; u < units.size(); u += n) {
      out.add(units.get(u));
    }
    return out;
  }

  /** The units by output partition ({@link WorkUnit#partitionKey}), in plan order. */
  public Map<String, List<WorkUnit>> partitions() {
    Map<String, List<WorkUnit>> out = new LinkedHashMap<>();
    for (WorkUnit u : units) {
      out.computeIfAbsent(u.partitionKey(), k -> new ArrayList<>()).add(u);
    }
    return out;
  }

  /** A layer's shape. */
  public AtlasInputs.LayerShape layer(int l) {
    for (AtlasInputs.LayerShape s : shape.layers()) {
      if (s.layer() == l) {
        return s;
      }
    }
    throw new IllegalArgumentException("layer " + l + " is not in this atlas");
  }
}
