package dev.saelab.linalg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TileKernelsTest {
  @Test
  void vectorAndScalarScannersAgreeEverywhere() {
    TileKernels best = TileKernels.best();
    assertTrue(
        best instanceof VectorTileKernels, "tests run with --add-modules jdk.incubator.vector");
    TileKernels scalar = new TileKernels.ScalarTileKernels();
    Random rnd = new Random(345);
    int cols = 77;
    ByteBuffer b = ByteBuffer.allocateDirect(4 * cols * 3).order(ByteOrder.nativeOrder());
    for (int i = 0; i < cols * 3; i++) {
      b.putFloat(4 * i, (float) rnd.nextGaussian());
    }
    for (int trial = 0; trial < 2000; trial++) {
      int row = rnd.nextInt(3);
      int from = rnd.nextInt(cols + 1);
      float t = (float) (rnd.nextGaussian() * 1.5);
      RankBy by = RankBy.values()[trial % 3];
      assertEquals(
          scalar.next(b, row * cols, from, cols, t, by),
          best.next(b, row * cols, from, cols, t, by),
          "trial " + trial);
    }
  }

  @Test
  void vectorAndScalarIntScannersAndDotProductsAgree() {
    TileKernels best = TileKernels.best();
    TileKernels scalar = new TileKernels.ScalarTileKernels();
    Random rnd = new Random(17);
    int cols = 77;
    ByteBuffer b = ByteBuffer.allocateDirect(4 * cols * 3).order(ByteOrder.nativeOrder());
    for (int i = 0; i < cols * 3; i++) {
      b.putInt(4 * i, rnd.nextInt(2001) - 1000);
    }
    for (int trial = 0; trial < 2000; trial++) {
      int row = rnd.nextInt(3);
      int from = rnd.nextInt(cols + 1);
      int to = from + rnd.nextInt(cols + 1 - from);
      int t = trial % 10 == 0 ? Integer.MIN_VALUE + 1 : rnd.nextInt(2400) - 1200;
      RankBy by = RankBy.values()[trial % 3];
      int want = scalar.nextInt(b, row * cols, from, to, t, by);
      assertEquals(want, best.nextInt(b, row * cols, from, to, t, by), "trial " + trial);
      if (want < to) {
        assertTrue(TileKernels.intKey(b.getInt(4 * (row * cols + want)), by) >= t);
      }
    }
    ByteBuffer x = ByteBuffer.allocateDirect(4 * 600).order(ByteOrder.nativeOrder());
    for (int i = 0; i < 600; i++) {
      x.putFloat(4 * i, (float) rnd.nextGaussian());
    }
    for (int trial = 0; trial < 200; trial++) {
      int n = rnd.nextInt(290);
      int a0 = rnd.nextInt(300);
      int b0 = rnd.nextInt(300);
      double exact = 0;
      for (int l = 0; l < n; l++) {
        exact += (double) x.getFloat(4 * (a0 + l)) * x.getFloat(4 * (b0 + l));
      }
      assertEquals(exact, best.dot(x, a0, x, b0, n), 1e-12 * (1 + Math.abs(exact)));
      assertEquals(exact, scalar.dot(x, a0, x, b0, n), 1e-12 * (1 + Math.abs(exact)));
    }
  }
}
