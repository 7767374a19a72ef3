package dev.saelab.circuits;

import java.nio.ByteBuffer;

/**
 * Finds, in one row of a float32 tile held off-heap, the next column whose ranking key reaches a threshold. Two
 * implementations: {@link VectorRowScanner} (the JDK Vector API, 16 lanes with AVX-512, used when the JVM runs with
 * {@code --add-modules jdk.incubator.vector}) and a scalar loop otherwise.
 */
interface RowScanner {
  /**
   * @param tile the tile's bytes (native order)
   * @param rowStart element index of the row's first column
   * @param from first column to look at
   * @param cols columns in the row
   * @param threshold the key to reach
   * @param rankBy the key
   * @return the first column {@code >= from} whose key is {@code >= threshold}, or {@code cols}
   */
  int next(ByteBuffer tile, int rowStart, int from, int cols, float threshold, RankBy rankBy);

  /** The Vector API scanner when its module is present, else the scalar one. */
  static RowScanner best() {
    if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
      try {
        return (RowScanner) Class.forName("dev.saelab.circuits.VectorRowScanner").getDeclaredConstructor()
            .newInstance();
      } catch (ReflectiveOperationException | LinkageError e) {
        // fall through to the scalar scanner
      }
    }
    return new ScalarRowScanner();
  }

  /** Plain Java loop. */
  final class ScalarRowScanner implements RowScanner {
    @Override
    public int next(ByteBuffer tile, int rowStart, int from, int cols, float t, RankBy rankBy) {
      int base = rowStart * 4;
      for (int c = from; c < cols; c++) {
        float v = tile.getFloat(base + 4 * c);
        if (rankBy.key(v) >= t) {
          return c;
        }
      }
      return cols;
    }
  }
}
