package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RowScannerTest {
  @Test
  void vectorAndScalarScannersAgreeEverywhere() {
    RowScanner best = RowScanner.best();
    assertTrue(best instanceof VectorRowScanner, "tests run with --add-modules jdk.incubator.vector");
    RowScanner scalar = new RowScanner.ScalarRowScanner();
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
      assertEquals(scalar.next(b, row * cols, from, cols, t, by), best.next(b, row * cols, from, cols, t, by),
          "trial " + trial);
    }
  }
}
