package dev.saelab.atlas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.linalg.FactoredProduct;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.RankBy;
import dev.saelab.linalg.Screen;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Row blocks merged in any order and grouping equal the whole product's top-k, on products full of
 * exact ties (small integer factors, repeated rows): the engine's order, larger key, then smaller
 * row, then smaller column, survives the merge.
 */
class UnitMergeTest {
  /** Integer entries in [-2, 2], with rows 3k+1 repeating rows 3k: ties everywhere. */
  static INDArray ties(int n, int r, long seed) {
    Random rnd = new Random(seed);
    float[][] m = new float[n][r];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < r; j++) {
        m[i][j] = i % 3 == 1 ? m[i - 1][j] : rnd.nextInt(5) - 2;
      }
    }
    return Nd4j.createFromArray(m);
  }

  static UnitResult run(INDArray l, INDArray r, int r0, int r1, int k, RankBy rb, boolean excl) {
    WorkUnit u = new WorkUnit(WorkUnit.Part.TABLE, 0, 0, CircuitKind.QK, r0, r1);
    return UnitRunner.block(
        u, l, r, k, 3, rb, excl, 1.0, "", new FactoredProduct.Workspace(4, 8, true, Screen.FP32));
  }

  @Test
  void blocksMergedInAnyOrderEqualTheWholeProductWithTies() {
    INDArray l = ties(40, 6, 1);
    INDArray r = ties(37, 6, 2);
    for (RankBy rb : RankBy.values()) {
      for (boolean excl : new boolean[] {false, true}) {
        int k = 90;
        List<FeatureEdge> ref = new FactoredProduct(l, r).topK(k, rb, excl);
        for (int step : new int[] {1, 3, 7, 40}) {
          List<UnitResult> parts = new ArrayList<>();
          for (int r0 = 0; r0 < 40; r0 += step) {
            parts.add(run(l, r, r0, Math.min(40, r0 + step), k, rb, excl));
          }
          Collections.shuffle(parts, new Random(step));
          // a tree: pairs first, then the pairs' merges
          while (parts.size() > 1) {
            List<UnitResult> next = new ArrayList<>();
            for (int i = 0; i < parts.size(); i += 2) {
              next.add(
                  i + 1 < parts.size()
                      ? UnitMerge.merge(parts.get(i), parts.get(i + 1))
                      : parts.get(i));
            }
            parts = next;
          }
          UnitResult m = parts.get(0);
          String what = rb + " excl " + excl + " step " + step;
          assertEquals(40, m.rowsCovered(), what);
          assertEquals(ref.size(), m.size(), what);
          for (int i = 0; i < ref.size(); i++) {
            assertEquals(ref.get(i).row(), m.rows()[i], what + " #" + i);
            assertEquals(ref.get(i).col(), m.cols()[i], what + " #" + i);
            assertEquals(ref.get(i).value(), m.values()[i], what + " #" + i);
          }
          // partners: each column's, merged over blocks, equal the whole product's
          UnitResult whole = run(l, r, 0, 40, k, rb, excl);
          assertPartnersEqual(whole.colPartners(), m.colPartners(), what + " cols");
          assertPartnersEqual(whole.rowPartners(), m.rowPartners(), what + " rows");
        }
      }
    }
  }

  static void assertPartnersEqual(UnitResult.Partners a, UnitResult.Partners b, String what) {
    assertEquals(
        java.util.Arrays.toString(a.features()), java.util.Arrays.toString(b.features()), what);
    assertEquals(
        java.util.Arrays.toString(a.offsets()), java.util.Arrays.toString(b.offsets()), what);
    assertEquals(
        java.util.Arrays.toString(a.partners()), java.util.Arrays.toString(b.partners()), what);
    assertEquals(
        java.util.Arrays.toString(a.values()), java.util.Arrays.toString(b.values()), what);
  }

  @Test
  void aUnitMergedTwiceIsCountedOnceAndPartitionsDoNotMix() {
    INDArray l = ties(10, 4, 3);
    INDArray r = ties(9, 4, 4);
    UnitResult a = run(l, r, 0, 10, 20, RankBy.ABS, false);
    UnitResult twice = UnitMerge.merge(a, a);
    assertEquals(java.util.Arrays.toString(a.rows()), java.util.Arrays.toString(twice.rows()));
    assertEquals(java.util.Arrays.toString(a.cols()), java.util.Arrays.toString(twice.cols()));
    WorkUnit other = new WorkUnit(WorkUnit.Part.TABLE, 0, 1, CircuitKind.QK, 0, 10);
    UnitResult b =
        UnitRunner.block(
            other,
            l,
            r,
            20,
            0,
            RankBy.ABS,
            false,
            1.0,
            "",
            new FactoredProduct.Workspace(4, 8, true, Screen.FP32));
    assertThrows(IllegalArgumentException.class, () -> UnitMerge.merge(a, b));
  }

  @Test
  void idsAreStable() {
    assertEquals(
        "L1-H3-qk-r0-4096", new WorkUnit(WorkUnit.Part.TABLE, 1, 3, CircuitKind.QK, 0, 4096).id());
    assertEquals("L1-sum-ov", new WorkUnit(WorkUnit.Part.SUM, 1, -1, CircuitKind.OV, 0, 0).id());
    assertEquals("L12", AtlasSpec.substitute("L{L-1}", 13));
    assertEquals("layer_12/x_14", AtlasSpec.substitute("layer_{L-1}/x_{L+1}", 13));
    assertEquals(
        "[3, 7, 8, 9, 10, 11, 12]", java.util.Arrays.toString(AtlasSpec.parseLayers("3,7-12", 26)));
  }
}
