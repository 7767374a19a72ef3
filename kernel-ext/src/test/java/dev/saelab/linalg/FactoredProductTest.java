package dev.saelab.linalg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.io.Backend;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/** The public facade: the exact top-k of L·Rᵀ, in a workspace that owns the engine's resources. */
class FactoredProductTest {
  @BeforeAll
  static void nd4j() {
    Backend.init();
  }

  static double[][] random(Random rnd, int n, int r) {
    double[][] a = new double[n][r];
    for (double[] row : a) {
      for (int t = 0; t < r; t++) {
        row[t] = (float) (rnd.nextGaussian() * Math.exp(rnd.nextGaussian()));
      }
    }
    return a;
  }

  @Test
  void topKMatchesThePlainReferenceForEveryScreenAndKeepsStatistics() {
    Random rnd = new Random(12);
    double[][] l = random(rnd, 70, 9);
    double[][] r = random(rnd, 50, 9);
    FactoredProduct p = new FactoredProduct(TopKProductTest.nd(l), TopKProductTest.nd(r));
    assertEquals(70, p.rows());
    assertEquals(50, p.cols());
    assertEquals(3500 - 50, p.entries(true));
    for (Screen s : Screen.values()) {
      try (FactoredProduct.Workspace ws = new FactoredProduct.Workspace(16, 32, true, s)) {
        assertEquals(
            TopKProductTest.reference(l, r, 25, RankBy.VALUE, true),
            p.topK(25, RankBy.VALUE, true, ws, null),
            s.toString());
        assertEquals(
            TopKProductTest.reference(l, r, 10, RankBy.ABS, false),
            p.topK(10, RankBy.ABS, false, ws, null),
            s.toString());
        assertEquals(2 * 5 * 2, ws.stats().tiles(), "two calls over a 5 × 2 grid of tiles");
        assertTrue(ws.stats().rescored() >= 35);
      }
    }
    assertEquals(
        TopKProductTest.reference(l, r, 7, RankBy.NEG_VALUE, false),
        p.topK(7, RankBy.NEG_VALUE, false));
  }

  @Test
  void aKLargerThanTheProductGivesEveryEntry() {
    Random rnd = new Random(3);
    double[][] l = random(rnd, 6, 4);
    double[][] r = random(rnd, 5, 4);
    List<FeatureEdge> all =
        new FactoredProduct(TopKProductTest.nd(l), TopKProductTest.nd(r))
            .topK(Integer.MAX_VALUE, RankBy.ABS, true);
    assertEquals(30 - 5, all.size());
    assertEquals(TopKProductTest.reference(l, r, 100, RankBy.ABS, true), all);
  }

  @Test
  void badUseIsNamed() {
    INDArray a = TopKProductTest.nd(new double[][] {{1, 2}});
    INDArray b = TopKProductTest.nd(new double[][] {{1, 2, 3}});
    assertThrows(IllegalArgumentException.class, () -> new FactoredProduct(a, b));
    FactoredProduct p = new FactoredProduct(a, a);
    assertEquals(
        "top-k 0: expected a positive number of entries",
        assertThrows(IllegalArgumentException.class, () -> p.topK(0, RankBy.ABS, false))
            .getMessage());
    FactoredProduct.Workspace ws = new FactoredProduct.Workspace(8, 8, true, Screen.FP32);
    ws.close();
    assertThrows(IllegalStateException.class, () -> p.topK(1, RankBy.ABS, false, ws, null));
    ws.close(); // twice is harmless
  }
}
