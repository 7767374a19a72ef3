package dev.saelab.linalg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.saelab.io.Backend;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class TopKProductTest {
  @BeforeAll
  static void nd4j() {
    Backend.init();
  }

  /**
   * Plain double-precision reference: every entry (the double product rounded to float), sorted by
   * key, then row, then column. Inputs must be float32 values so that the engine sees the same
   * numbers.
   */
  static List<FeatureEdge> reference(
      double[][] l, double[][] r, int k, RankBy by, boolean exclDiag) {
    List<double[]> all = new ArrayList<>();
    for (int i = 0; i < l.length; i++) {
      for (int j = 0; j < r.length; j++) {
        if (exclDiag && i == j) {
          continue;
        }
        double s = 0;
        for (int t = 0; t < l[i].length; t++) {
          s += l[i][t] * r[j][t];
        }
        float v =
            (float) s; // the engine's value: the exact product of the float32 rows, rounded once
        all.add(new double[] {by.key(v), i, j, v});
      }
    }
    all.sort(
        Comparator.<double[]>comparingDouble(a -> -a[0])
            .thenComparingDouble(a -> a[1])
            .thenComparingDouble(a -> a[2]));
    List<FeatureEdge> out = new ArrayList<>();
    for (double[] a : all.subList(0, Math.min(k, all.size()))) {
      out.add(new FeatureEdge((int) a[1], (int) a[2], (float) a[3]));
    }
    return out;
  }

  static INDArray nd(double[][] a) {
    return Nd4j.create(a).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).dup('c');
  }

  @Test
  void handComputedThreeByThreeWithTiesAndSelfPairs() {
    // L·Rᵀ with L = I and R = M gives M itself:
    //   M = [[ 5, -5,  1],
    //        [ 2,  5, -3],
    //        [-5,  0,  4]]
    double[][] eye = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    double[][] m = {{5, 2, -5}, {-5, 5, 0}, {1, -3, 4}}; // rows of R are columns of M
    INDArray l = nd(eye);
    INDArray r = nd(m);
    TopKProduct e = new TopKProduct(2, 2, true);
    // |value|: four 5s, ties broken by row then column: (0,0) (0,1) (1,1) (2,0), then 4 at (2,2)
    assertEquals(
        List.of(
            new FeatureEdge(0, 0, 5),
            new FeatureEdge(0, 1, -5),
            new FeatureEdge(1, 1, 5),
            new FeatureEdge(2, 0, -5),
            new FeatureEdge(2, 2, 4)),
        e.topK(l, r, 5, RankBy.ABS, false, null, null));
    // without self pairs: (0,1) (2,0) then 3 at (1,2)
    assertEquals(
        List.of(new FeatureEdge(0, 1, -5), new FeatureEdge(2, 0, -5), new FeatureEdge(1, 2, -3)),
        e.topK(l, r, 3, RankBy.ABS, true, null, null));
    assertEquals(
        List.of(new FeatureEdge(0, 0, 5), new FeatureEdge(1, 1, 5), new FeatureEdge(2, 2, 4)),
        e.topK(l, r, 3, RankBy.VALUE, false, null, null));
    assertEquals(
        List.of(new FeatureEdge(0, 1, -5), new FeatureEdge(2, 0, -5), new FeatureEdge(1, 2, -3)),
        e.topK(l, r, 3, RankBy.NEG_VALUE, false, null, null));
    assertEquals(9, e.topK(l, r, 50, RankBy.ABS, false, null, null).size());
    e.release();
  }

  /** Random float32 values (heavy-tailed row norms), or small integers (many exact ties). */
  static double[][] randomRows(Random rnd, int n, int dim, boolean integer) {
    double[][] m = new double[n][dim];
    for (double[] row : m) {
      double scale = Math.exp(rnd.nextGaussian());
      for (int t = 0; t < dim; t++) {
        row[t] = integer ? rnd.nextInt(5) - 2 : (float) (rnd.nextGaussian() * scale);
      }
    }
    return m;
  }

  @Test
  void matchesTheDoubleReferenceExactlyOnRandomShapesWithEveryScreenWithAndWithoutPruning() {
    Random rnd = new Random(345);
    for (int trial = 0; trial < 60; trial++) {
      int nL = 1 + rnd.nextInt(70);
      int nR = 1 + rnd.nextInt(300);
      int dim = trial % 4 == 3 ? 64 + rnd.nextInt(300) : 1 + rnd.nextInt(9);
      boolean integer = trial % 3 == 0;
      double[][] l = randomRows(rnd, nL, dim, integer);
      double[][] r = randomRows(rnd, nR, dim, integer);
      int k = 1 + rnd.nextInt(30);
      RankBy by = RankBy.values()[trial % 3];
      boolean excl = trial % 2 == 0;
      int tr = 1 + rnd.nextInt(16);
      int tc = 1 + rnd.nextInt(200);
      List<FeatureEdge> want = reference(l, r, k, by, excl);
      for (Screen screen : Screen.values()) {
        for (boolean prune : new boolean[] {true, false}) {
          TopKProduct e = new TopKProduct(tr, tc, prune, screen);
          List<FeatureEdge> got = e.topK(nd(l), nd(r), k, by, excl, null, null);
          e.release();
          assertEquals(want, got, "trial " + trial + " " + screen + " prune " + prune);
        }
      }
    }
  }

  @Test
  void int8ScreenSurvivesZeroRowsOutliersAndNearTies() {
    Random rnd = new Random(11);
    int n = 300;
    int dim = 40;
    double[][] l = randomRows(rnd, n, dim, false);
    double[][] r = randomRows(rnd, n, dim, false);
    java.util.Arrays.fill(l[3], 0); // zero rows: scale 0
    java.util.Arrays.fill(r[5], 0);
    l[7][0] = 1e4f; // one huge element: every other element of the row quantises to 0
    r[9][dim - 1] = -3e3f;
    for (int t = 0;
        t < dim;
        t++) { // r[11] = r[12] + one ulp somewhere: near-ties through the screen
      r[12][t] = r[11][t];
    }
    r[12][0] = Math.nextUp((float) r[11][0]);
    for (RankBy by : RankBy.values()) {
      List<FeatureEdge> want = reference(l, r, 200, by, false);
      for (int tc : new int[] {1, 127, 128, 129, 300}) {
        TopKProduct e = new TopKProduct(64, tc, true, Screen.INT8);
        assertEquals(
            want, e.topK(nd(l), nd(r), 200, by, false, null, null), by + " tile cols " + tc);
        e.release();
      }
    }
  }

  @Test
  void int8ScreenRescoresOnlyAFewEntries() {
    Random rnd = new Random(5);
    int n = 3000;
    int dim = 64;
    double[][] l = new double[n][dim];
    double[][] r = new double[n][dim];
    for (double[][] m : new double[][][] {l, r}) {
      for (double[] row : m) {
        for (int t = 0; t < dim; t++) {
          row[t] =
              (float)
                  rnd.nextGaussian(); // isotropic: the norm bound prunes nothing, the screen must
          // work
        }
      }
    }
    FactoredProduct.Stats st = new FactoredProduct.Stats();
    TopKProduct e = new TopKProduct(1024, 4096, true, Screen.INT8);
    List<FeatureEdge> got = e.topK(nd(l), nd(r), 100, RankBy.ABS, false, st, null);
    e.release();
    assertEquals(reference(l, r, 100, RankBy.ABS, false), got);
    assertEquals(0, st.skipped());
    org.junit.jupiter.api.Assertions.assertTrue(
        st.rescored() < 0.002 * n * n, "rescored " + st.rescored() + " of " + (long) n * n);
  }

  @Test
  void pruningSkipsTilesOnHeavyTailedNormsAndChangesNothing() {
    Random rnd = new Random(7);
    int n = 400;
    double[][] l = new double[n][8];
    double[][] r = new double[n][8];
    for (double[][] m : new double[][][] {l, r}) {
      for (int i = 0; i < n; i++) {
        double s = i < 10 ? 20 : 1; // a few strong rows, the rest weak
        for (int t = 0; t < 8; t++) {
          m[i][t] = rnd.nextGaussian() * s;
        }
      }
    }
    FactoredProduct.Stats pruned = new FactoredProduct.Stats();
    FactoredProduct.Stats full = new FactoredProduct.Stats();
    List<FeatureEdge> a =
        new TopKProduct(32, 32, true).topK(nd(l), nd(r), 20, RankBy.ABS, false, pruned, null);
    List<FeatureEdge> b =
        new TopKProduct(32, 32, false).topK(nd(l), nd(r), 20, RankBy.ABS, false, full, null);
    assertEquals(b, a);
    assertEquals(0, full.skipped());
    assertEquals(full.tiles(), pruned.tiles());
    org.junit.jupiter.api.Assertions.assertTrue(
        pruned.skipped() > pruned.tiles() / 2,
        "skipped " + pruned.skipped() + " of " + pruned.tiles());
  }

  @Test
  void interruptsAtAnyMomentEitherCancelOrGiveTheExactTableAndTheEngineStaysUsable()
      throws Exception {
    Random rnd = new Random(3);
    double[][] l = randomRows(rnd, 1500, 64, false);
    double[][] r = randomRows(rnd, 1500, 64, false);
    INDArray ln = nd(l);
    INDArray rn = nd(r);
    List<FeatureEdge> want = reference(l, r, 40, RankBy.ABS, false);
    TopKProduct e =
        new TopKProduct(64, 256, true, Screen.INT8); // ~550 small tiles: interrupts land mid-scan
    int cancelled = 0;
    for (int trial = 0; trial < 12; trial++) {
      java.util.concurrent.atomic.AtomicReference<Object> result =
          new java.util.concurrent.atomic.AtomicReference<>();
      Thread t =
          new Thread(
              () -> {
                try {
                  result.set(e.topK(ln, rn, 40, RankBy.ABS, false, null, null));
                } catch (java.util.concurrent.CancellationException c) {
                  result.set(c);
                }
              });
      t.start();
      Thread.sleep(trial * 7L);
      t.interrupt();
      t.join(60_000);
      if (result.get() instanceof java.util.concurrent.CancellationException) {
        cancelled++;
      } else {
        assertEquals(want, result.get(), "trial " + trial);
      }
    }
    org.junit.jupiter.api.Assertions.assertTrue(cancelled > 0, "no run was interrupted");
    assertEquals(want, e.topK(ln, rn, 40, RankBy.ABS, false, null, null));
    e.release();
  }

  @Test
  void interruptStopsPromptly() {
    INDArray l = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 64, 4);
    Thread.currentThread().interrupt();
    try {
      org.junit.jupiter.api.Assertions.assertThrows(
          java.util.concurrent.CancellationException.class,
          () -> new TopKProduct(8, 8, true).topK(l, l, 5, RankBy.ABS, false, null, null));
    } finally {
      Thread.interrupted();
    }
  }
}
