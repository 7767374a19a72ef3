package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.saelab.nd.Backend;
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

  /** Plain double-precision reference: every entry, sorted by key, then row, then column. */
  static List<FeatureEdge> reference(double[][] l, double[][] r, int k, RankBy by, boolean exclDiag) {
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
        all.add(new double[] {by.key(s), i, j, s});
      }
    }
    all.sort(Comparator.<double[]>comparingDouble(a -> -a[0]).thenComparingDouble(a -> a[1])
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
    assertEquals(List.of(new FeatureEdge(0, 0, 5), new FeatureEdge(0, 1, -5), new FeatureEdge(1, 1, 5),
        new FeatureEdge(2, 0, -5), new FeatureEdge(2, 2, 4)), e.topK(l, r, 5, RankBy.ABS, false, null, null));
    // without self pairs: (0,1) (2,0) then 3 at (1,2)
    assertEquals(List.of(new FeatureEdge(0, 1, -5), new FeatureEdge(2, 0, -5), new FeatureEdge(1, 2, -3)),
        e.topK(l, r, 3, RankBy.ABS, true, null, null));
    assertEquals(List.of(new FeatureEdge(0, 0, 5), new FeatureEdge(1, 1, 5), new FeatureEdge(2, 2, 4)),
        e.topK(l, r, 3, RankBy.VALUE, false, null, null));
    assertEquals(List.of(new FeatureEdge(0, 1, -5), new FeatureEdge(2, 0, -5), new FeatureEdge(1, 2, -3)),
        e.topK(l, r, 3, RankBy.NEG_VALUE, false, null, null));
    assertEquals(9, e.topK(l, r, 50, RankBy.ABS, false, null, null).size());
    e.release();
  }

  @Test
  void matchesTheDoubleReferenceOnRandomShapesWithAndWithoutPruning() {
    Random rnd = new Random(345);
    for (int trial = 0; trial < 40; trial++) {
      int nL = 1 + rnd.nextInt(70);
      int nR = 1 + rnd.nextInt(70);
      int dim = 1 + rnd.nextInt(9);
      boolean integer = trial % 3 == 0; // small integers: many exact ties
      double[][] l = new double[nL][dim];
      double[][] r = new double[nR][dim];
      for (double[][] m : new double[][][] {l, r}) {
        for (double[] row : m) {
          double scale = Math.exp(rnd.nextGaussian()); // heavy-tailed norms
          for (int t = 0; t < dim; t++) {
            row[t] = integer ? rnd.nextInt(5) - 2 : rnd.nextGaussian() * scale;
          }
        }
      }
      int k = 1 + rnd.nextInt(30);
      RankBy by = RankBy.values()[trial % 3];
      boolean excl = trial % 2 == 0;
      int tr = 1 + rnd.nextInt(16);
      int tc = 1 + rnd.nextInt(16);
      List<FeatureEdge> want = reference(l, r, k, by, excl);
      for (boolean prune : new boolean[] {true, false}) {
        TopKProduct e = new TopKProduct(tr, tc, prune);
        List<FeatureEdge> got = e.topK(nd(l), nd(r), k, by, excl, null, null);
        e.release();
        if (integer) {
          assertEquals(want, got, "trial " + trial + " prune " + prune);
        } else {
          assertEquals(want.size(), got.size());
          for (int i = 0; i < want.size(); i++) {
            assertEquals(want.get(i).row(), got.get(i).row(), "trial " + trial + " rank " + i);
            assertEquals(want.get(i).col(), got.get(i).col(), "trial " + trial + " rank " + i);
            assertEquals(want.get(i).value(), got.get(i).value(), 1e-4 * (1 + Math.abs(want.get(i).value())));
          }
        }
      }
    }
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
    TopKProduct.Stats pruned = new TopKProduct.Stats();
    TopKProduct.Stats full = new TopKProduct.Stats();
    List<FeatureEdge> a = new TopKProduct(32, 32, true).topK(nd(l), nd(r), 20, RankBy.ABS, false, pruned, null);
    List<FeatureEdge> b = new TopKProduct(32, 32, false).topK(nd(l), nd(r), 20, RankBy.ABS, false, full, null);
    assertEquals(b, a);
    assertEquals(0, full.skipped());
    assertEquals(full.tiles(), pruned.tiles());
    org.junit.jupiter.api.Assertions.assertTrue(pruned.skipped() > pruned.tiles() / 2,
        "skipped " + pruned.skipped() + " of " + pruned.tiles());
  }

  @Test
  void interruptStopsPromptly() {
    INDArray l = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 64, 4);
    Thread.currentThread().interrupt();
    try {
      org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.CancellationException.class,
          () -> new TopKProduct(8, 8, true).topK(l, l, 5, RankBy.ABS, false, null, null));
    } finally {
      Thread.interrupted();
    }
  }
}
