package dev.saelab.linalg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.saelab.io.Backend;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The int8 screen's fused tiles: each worker computes its own tiles on one core and scans them
 * straight after. Whatever the tile shape (edges, shapes wider than the product, one row or one
 * column), the number of workers racing for row blocks, and ties, the table is the plain double
 * reference's exactly.
 */
class FusedInt8TilesTest {
  @BeforeAll
  static void nd4j() {
    Backend.init();
  }

  private static List<FeatureEdge> reference(
      double[][] l, double[][] r, int k, RankBy by, boolean excl) {
    return TopKProductTest.reference(l, r, k, by, excl);
  }

  @Test
  void edgeTilesAndEveryWorkerCountGiveTheReferenceExactly() {
    Random rnd = new Random(2024);
    // n not a multiple of the tile in either direction, a tile wider than the product, one-row and
    // one-column tiles, a tile exactly the product
    int[][] shapes = {{64, 100}, {7, 13}, {1, 500}, {300, 1}, {512, 4096}, {61, 239}};
    for (int trial = 0; trial < 12; trial++) {
      int nL = trial < 6 ? 61 : 1 + rnd.nextInt(90);
      int nR = trial < 6 ? 239 : 1 + rnd.nextInt(260);
      int dim = trial % 2 == 0 ? 16 : 1 + rnd.nextInt(40);
      boolean integer = trial % 3 != 2; // small integers: many exact ties
      double[][] l = TopKProductTest.randomRows(rnd, nL, dim, integer);
      double[][] r = TopKProductTest.randomRows(rnd, nR, dim, integer);
      RankBy by = RankBy.values()[trial % 3];
      boolean excl = trial % 4 == 1;
      int k = 1 + rnd.nextInt(120);
      List<FeatureEdge> want = reference(l, r, k, by, excl);
      int[] tile = shapes[trial % shapes.length];
      for (int workers : new int[] {1, 2, 3, 5}) {
        TopKProduct e = new TopKProduct(tile[0], tile[1], trial % 2 == 0, Screen.INT8, workers);
        try {
          assertEquals(
              want,
              e.topK(TopKProductTest.nd(l), TopKProductTest.nd(r), k, by, excl, null, null),
              "trial " + trial + " tile " + tile[0] + "x" + tile[1] + " workers " + workers);
        } finally {
          e.release();
        }
      }
    }
  }

  @Test
  void tilesSpanningSeveralColumnGroupsOffTheGroupGridGiveTheReference() {
    // tiles wider than a quantisation group (512 sorted columns), starting off the group grid:
    // each row of a tile is screened group by group, each group with its own integer threshold
    Random rnd = new Random(77);
    for (int trial = 0; trial < 6; trial++) {
      int nL = 40;
      int nR = 1500 + rnd.nextInt(300);
      double[][] l = TopKProductTest.randomRows(rnd, nL, 16, trial % 3 == 0);
      double[][] r = TopKProductTest.randomRows(rnd, nR, 16, trial % 3 == 0);
      java.util.Arrays.fill(r[1 + rnd.nextInt(nR - 1)], 0); // a zero row somewhere
      java.util.Arrays.fill(l[rnd.nextInt(nL)], 0);
      RankBy by = RankBy.values()[trial % 3];
      List<FeatureEdge> want = reference(l, r, 150, by, false);
      for (int tc : new int[] {700, 1100, 1024}) {
        TopKProduct e = new TopKProduct(16, tc, true, Screen.INT8, 2);
        try {
          assertEquals(
              want,
              e.topK(TopKProductTest.nd(l), TopKProductTest.nd(r), 150, by, false, null, null),
              "trial " + trial + " " + by + " tile cols " + tc);
        } finally {
          e.release();
        }
      }
    }
  }

  @Test
  void theSameEngineServesProductsOfOtherShapesAfterwards() {
    // tiles and their edge views are kept per worker and shape: a later product with other edges
    // must not read an earlier product's shapes
    Random rnd = new Random(8);
    TopKProduct e = new TopKProduct(32, 48, true, Screen.INT8, 3);
    try {
      for (int[] n : new int[][] {{100, 100}, {33, 97}, {100, 49}, {5, 5}, {64, 96}}) {
        double[][] l = TopKProductTest.randomRows(rnd, n[0], 12, false);
        double[][] r = TopKProductTest.randomRows(rnd, n[1], 12, false);
        assertEquals(
            reference(l, r, 50, RankBy.ABS, false),
            e.topK(TopKProductTest.nd(l), TopKProductTest.nd(r), 50, RankBy.ABS, false, null, null),
            n[0] + "x" + n[1]);
      }
    } finally {
      e.release();
    }
  }

  @Test
  void progressIsReportedOncePerRowBlockOnTheCallersThread() {
    Random rnd = new Random(4);
    double[][] l = TopKProductTest.randomRows(rnd, 250, 8, false);
    double[][] r = TopKProductTest.randomRows(rnd, 90, 8, false);
    Thread caller = Thread.currentThread();
    AtomicInteger calls = new AtomicInteger();
    AtomicInteger elsewhere = new AtomicInteger();
    FactoredProduct.Stats st = new FactoredProduct.Stats();
    TopKProduct e = new TopKProduct(16, 40, true, Screen.INT8, 3);
    try {
      List<FeatureEdge> got =
          e.topK(
              TopKProductTest.nd(l),
              TopKProductTest.nd(r),
              30,
              RankBy.VALUE,
              false,
              st,
              () -> {
                calls.incrementAndGet();
                if (Thread.currentThread() != caller) {
                  elsewhere.incrementAndGet();
                }
              });
      assertEquals(reference(l, r, 30, RankBy.VALUE, false), got);
    } finally {
      e.release();
    }
    assertEquals(16, calls.get()); // ceil(250 / 16) row blocks
    assertEquals(0, elsewhere.get());
    assertEquals(16L * 3, st.tiles()); // ceil(90 / 40) column blocks
  }

  @Test
  void maxIntKeyAgreesWithAPlainLoop() {
    TileKernels best = TileKernels.best();
    TileKernels scalar = new TileKernels.ScalarTileKernels();
    Random rnd = new Random(99);
    int cols = 300;
    ByteBuffer b = ByteBuffer.allocateDirect(4 * cols * 2).order(ByteOrder.nativeOrder());
    for (int trial = 0; trial < 3000; trial++) {
      if (trial % 100 == 0) {
        int span = trial % 300 == 0 ? Integer.MAX_VALUE : 1 + rnd.nextInt(5000);
        for (int i = 0; i < cols * 2; i++) {
          // wide values up to ±(2^31 - 1): the largest keys an int8 sum can reach
          int v = span == Integer.MAX_VALUE ? rnd.nextInt() : rnd.nextInt(span) - span / 2;
          b.putInt(4 * i, v == Integer.MIN_VALUE ? v + 1 : v);
        }
      }
      int row = rnd.nextInt(2);
      int from = rnd.nextInt(cols + 1);
      int to = from + rnd.nextInt(cols + 1 - from);
      RankBy by = RankBy.values()[trial % 3];
      long want = Integer.MIN_VALUE;
      for (int c = from; c < to; c++) {
        want = Math.max(want, TileKernels.intKey(b.getInt(4 * (row * cols + c)), by));
      }
      assertEquals(want, best.maxIntKey(b, row * cols, from, to, by), "trial " + trial);
      assertEquals(want, scalar.maxIntKey(b, row * cols, from, to, by), "trial " + trial);
    }
  }

  @Test
  void tileBytesCountOneInt8TilePerWorkerAndEveryFloatShape() {
    // int8: one 512 x 4096 int32 tile per worker; edges are views of it
    assertEquals(
        4L * 2 * 512 * 4096, FactoredProduct.tileBytes(Screen.INT8, 65536, 65536, 512, 4096, 2));
    assertEquals(4L * 3 * 100 * 50, FactoredProduct.tileBytes(Screen.INT8, 100, 50, 512, 4096, 3));
    // fp32: full 2048 x 16384, last row block 1000 rows, last column block 3000 columns, corner
    long full = 2048L * 16384;
    long want = 4 * (full + 1000L * 16384 + 2048L * 3000 + 1000L * 3000);
    assertEquals(want, FactoredProduct.tileBytes(Screen.FP32, 5096, 35768, 2048, 16384, 2));
    assertEquals(4L * full, FactoredProduct.tileBytes(Screen.FP32, 4096, 32768, 2048, 16384, 2));
  }
}
