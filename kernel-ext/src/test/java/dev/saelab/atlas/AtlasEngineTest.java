package dev.saelab.atlas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitTable;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.HeadSvd;
import dev.saelab.circuits.LayerTable;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.Progress;
import dev.saelab.linalg.RankBy;
import dev.saelab.testutil.TestFiles;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The atlas's units, merged, equal the single-machine engine entry for entry (bitwise values, the
 * engine's tie order), for several unit sizes and rankings; partners equal a plain double loop;
 * summaries equal the summed circuit and the head SVD.
 */
class AtlasEngineTest {
  static final String GEMMA2 = TestFiles.datasets().resolve("tiny-gemma2").toString();
  static final String SCOPE =
      TestFiles.datasets().resolve("tiny-gemma-scope").toString()
          + "/layer_{L-1}/width_*/average_l0_*";

  @AfterAll
  static void clear() {
    AtlasInputs.clearCache();
  }

  static AtlasSpec gemma(int top) {
    return AtlasSpec.of(GEMMA2, SCOPE).withLayers("1").withTopK(top);
  }

  /** Runs every unit of the plan and merges per partition, in plan order. */
  static Map<String, UnitResult> runAll(AtlasPlan plan) {
    Map<String, UnitResult> out = new LinkedHashMap<>();
    for (WorkUnit u : plan.units()) {
      UnitResult r = UnitRunner.run(plan.spec(), u);
      out.merge(u.partitionKey(), r, UnitMerge::merge);
    }
    return out;
  }

  static void assertSameTable(CircuitTable t, UnitResult r, String what) {
    List<FeatureEdge> e = t.edges();
    assertEquals(e.size(), r.size(), what + " size");
    for (int i = 0; i < e.size(); i++) {
      float v = r.scale() == 1.0 ? r.values()[i] : (float) (r.values()[i] * r.scale());
      assertEquals(e.get(i).row(), r.rows()[i], what + " rank " + (i + 1) + " row");
      assertEquals(e.get(i).col(), r.cols()[i], what + " rank " + (i + 1) + " col");
      assertEquals(
          Float.floatToIntBits(e.get(i).value()),
          Float.floatToIntBits(v),
          what + " rank " + (i + 1) + " value " + e.get(i).value() + " vs " + v);
    }
  }

  @Test
  void mergedUnitsEqualTheEngineTables() {
    for (RankBy rb : RankBy.values()) {
      AtlasSpec base = gemma(60).withRankBy(rb).withSummaries(false);
      List<CircuitTable> ref;
      try (AtlasInputs.Lease l = AtlasInputs.acquire(base, 1)) {
        ref = l.circuits().compute(UnitRunner.circuitSpec(base), Progress.NONE);
      }
      // one row per unit (1024 units) once; odd sizes, the whole and the default for every ranking
      int[] sizes = rb == RankBy.ABS ? new int[] {1, 7, 33, 128, 0} : new int[] {7, 33, 0};
      for (int rows : sizes) {
        AtlasSpec spec = base.withRowsPerUnit(rows);
        AtlasPlan plan = AtlasPlan.open(spec, m -> {});
        Map<String, UnitResult> merged = runAll(plan);
        assertEquals(ref.size(), merged.size());
        for (CircuitTable t : ref) {
          String key = "L1-H" + t.head() + "-" + t.kind().id();
          UnitResult r = merged.get(key);
          assertEquals(128, r.rowsCovered(), key);
          assertSameTable(t, r, key + " rows/unit " + rows + " " + rb);
        }
      }
    }
  }

  @Test
  void excludeSelfAndQueryScaleMatchToo() {
    AtlasSpec spec =
        gemma(40)
            .withExcludeSelf(true)
            .withQueryScale(true)
            .withSummaries(false)
            .withRowsPerUnit(9)
            .withCircuits(EnumSet.of(CircuitKind.QK));
    List<CircuitTable> ref;
    try (AtlasInputs.Lease l = AtlasInputs.acquire(spec, 1)) {
      ref = l.circuits().compute(UnitRunner.circuitSpec(spec), Progress.NONE);
    }
    Map<String, UnitResult> merged = runAll(AtlasPlan.open(spec, m -> {}));
    for (CircuitTable t : ref) {
      assertSameTable(t, merged.get("L1-H" + t.head() + "-qk"), "excl " + t.headName());
      for (FeatureEdge e : t.edges()) {
        assertTrue(e.row() != e.col());
      }
    }
  }

  @Test
  void partnersEqualAPlainLoop() {
    int k2 = 5;
    // small tiles: the screen crosses tile borders in both directions
    UnitRunner.partnerTileRows = 6;
    UnitRunner.partnerTileCols = 11;
    AtlasSpec spec = gemma(10).withPerFeature(k2).withSummaries(false).withRowsPerUnit(19);
    Map<String, UnitResult> merged;
    try {
      merged = runAll(AtlasPlan.open(spec, m -> {}));
    } finally {
      UnitRunner.partnerTileRows = 1024;
      UnitRunner.partnerTileCols = 4096;
    }
    try (AtlasInputs.Lease l = AtlasInputs.acquire(spec, 1)) {
      FeatureCircuits fc = l.circuits();
      for (CircuitKind kind : CircuitKind.values()) {
        for (int h = 0; h < 4; h++) {
          var prod = fc.projections().product(kind, h);
          float[][] left = prod.left().toFloatMatrix();
          float[][] right = prod.right().toFloatMatrix();
          UnitResult r = merged.get("L1-H" + h + "-" + kind.id());
          checkPartners(r.rowPartners(), left, right, k2, spec.rankBy(), kind + " H" + h + " rows");
          checkPartners(r.colPartners(), right, left, k2, spec.rankBy(), kind + " H" + h + " cols");
          // the table's first entry is its row's first partner, with the same value
          int row = r.rows()[0];
          int at = java.util.Arrays.binarySearch(r.rowPartners().features(), row);
          int first = r.rowPartners().offsets()[at];
          assertEquals(r.cols()[0], r.rowPartners().partners()[first]);
          assertEquals(
              Float.floatToIntBits(r.values()[0]),
              Float.floatToIntBits(r.rowPartners().values()[first]));
        }
      }
    }
  }

  /** Each feature (a row of {@code own}) against every row of {@code others}, in double. */
  static void checkPartners(
      UnitResult.Partners p, float[][] own, float[][] others, int k, RankBy rb, String what) {
    assertEquals(own.length, p.size(), what + " features");
    for (int f = 0; f < own.length; f++) {
      assertEquals(f, p.features()[f]);
      List<float[]> all = new ArrayList<>();
      for (int j = 0; j < others.length; j++) {
        double s = 0;
        for (int l = 0; l < own[f].length; l++) {
          s += (double) own[f][l] * others[j][l];
        }
        all.add(new float[] {(float) s, j});
      }
      all.sort(
          (a, b) -> {
            int c = Float.compare(rb.key(b[0]), rb.key(a[0]));
            return c != 0 ? c : Float.compare(a[1], b[1]);
          });
      int off = p.offsets()[f];
      assertEquals(k, p.offsets()[f + 1] - off, what + " feature " + f);
      for (int i = 0; i < k; i++) {
        assertEquals((int) all.get(i)[1], p.partners()[off + i], what + " f" + f + " #" + i);
        // the loop sums in order; the engine's kernel may sum in lanes: equal to 1 ulp of float
        assertEquals(all.get(i)[0], p.values()[off + i], Math.ulp(all.get(i)[0]), what);
      }
    }
  }

  @Test
  void summariesEqualTheSummedCircuitAndTheHeadSvd() {
    AtlasSpec spec = gemma(25).withRowsPerUnit(64);
    Map<String, UnitResult> merged = runAll(AtlasPlan.open(spec, m -> {}));
    try (AtlasInputs.Lease l = AtlasInputs.acquire(spec, 1)) {
      FeatureCircuits fc = l.circuits();
      for (CircuitKind kind : CircuitKind.values()) {
        LayerTable t =
            fc.computeSum(
                kind, UnitRunner.circuitSpec(spec).withKinds(EnumSet.of(kind)), Progress.NONE);
        UnitResult.Sum s = merged.get("L1-sum-" + kind.id()).sum();
        assertEquals(t.edges().size(), s.rows().length);
        for (int i = 0; i < s.rows().length; i++) {
          LayerTable.Edge e = t.edges().get(i);
          assertEquals(e.row(), s.rows()[i]);
          assertEquals(e.col(), s.cols()[i]);
          assertEquals((float) e.value(), s.values()[i]);
          assertEquals(t.weakInEveryHead(e), s.weakInEveryHead()[i]);
        }
        double[][] sigma = merged.get("L1-spectra-" + kind.id()).sigma();
        for (int h = 0; h < 4; h++) {
          HeadSvd svd =
              kind == CircuitKind.QK
                  ? HeadSvd.qk(fc.attention(), h, false)
                  : HeadSvd.ov(fc.attention(), h, false);
          assertArrayEquals(svd.sigma(), sigma[h]);
        }
      }
      // the planted spread pair 88 → 101 is first in the summed QK table
      UnitResult.Sum qk = merged.get("L1-sum-qk").sum();
      assertEquals(88, qk.rows()[0]);
      assertEquals(101, qk.cols()[0]);
    }
  }
}
