package dev.saelab.linalg;

import java.nio.ByteBuffer;

/**
 * The engine's hot loops over off-heap data: find, in one row of a float32 or int32 tile, the next
 * column whose ranking key reaches a threshold; the exact double-precision dot product that
 * rescores candidates; and the row maxima that set the int8 scales. Two implementations: {@link
 * VectorTileKernels} (the JDK Vector API, 16 lanes with AVX-512, used when the JVM runs with {@code
 * --add-modules jdk.incubator.vector}) and a scalar loop otherwise.
 */
interface TileKernels {
  /**
   * @param tile the tile's bytes (native order, float32)
   * @param rowStart element index of the row's first column
   * @param from first column to look at
   * @param cols columns in the row
   * @param threshold the key to reach
   * @param rankBy the key
   * @return the first column {@code >= from} whose key is {@code >= threshold}, or {@code cols}
   */
  int next(ByteBuffer tile, int rowStart, int from, int cols, float threshold, RankBy rankBy);

  /**
   * The int32 form of {@link #next}: the first column in {@code [from, to)} whose integer key
   * ({@code |c|}, {@code c} or {@code -c}) is {@code >= threshold}, or {@code to}. {@code
   * threshold} is greater than {@link Integer#MIN_VALUE}.
   */
  int nextInt(ByteBuffer tile, int rowStart, int from, int to, int threshold, RankBy rankBy);

  /**
   * The largest integer key ({@code |c|}, {@code c} or {@code -c}) among the int32 entries {@code
   * [from, to)} of a row, or {@link Integer#MIN_VALUE} when the range is empty: a cheaper pass than
   * {@link #nextInt} (no comparison per vector) that rules out a whole range at once. Entries must
   * be greater than {@link Integer#MIN_VALUE} (the int8 screen's sums are).
   */
  int maxIntKey(ByteBuffer tile, int rowStart, int from, int to, RankBy rankBy);

  /**
   * {@code Σ a[aStart+l]·b[bStart+l]} over {@code l < n} in double precision, from float32 data
   * (element indices; native order).
   */
  double dot(ByteBuffer a, int aStart, ByteBuffer b, int bStart, int n);

  /** {@code max |src[start+l]|} over {@code l < n} (float32, element indices). */
  float maxAbs(ByteBuffer src, int start, int n);

  /** The Vector API kernels when its module is present, else the scalar ones. */
  static TileKernels best() {
    if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
      try {
        return (TileKernels)
            Class.forName("dev.saelab.linalg.VectorTileKernels")
                .getDeclaredConstructor()
                .newInstance();
      } catch (ReflectiveOperationException | LinkageError e) {
        // fall through to the scalar kernels
      }
    }
    return new ScalarTileKernels();
  }

  /** The integer ranking key of an int32 tile entry. */
  static long intKey(int c, RankBy rankBy) {
    return rankBy == RankBy.ABS ? Math.abs((long) c) : rankBy == RankBy.VALUE ? c : -(long) c;
  }

  /** Plain Java loops. */
  final class ScalarTileKernels implements TileKernels {
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

    @Override
    public int nextInt(ByteBuffer tile, int rowStart, int from, int to, int t, RankBy rankBy) {
      int base = rowStart * 4;
      for (int c = from; c < to; c++) {
        if (intKey(tile.getInt(base + 4 * c), rankBy) >= t) {
          return c;
        }
      }
      return to;
    }

    @Override
    public int maxIntKey(ByteBuffer tile, int rowStart, int from, int to, RankBy rankBy) {
      int base = rowStart * 4;
      long m = Integer.MIN_VALUE;
      for (int c = from; c < to; c++) {
        m = Math.max(m, intKey(tile.getInt(base + 4 * c), rankBy));
      }
      return (int) m;
    }

    @Override
    public double dot(ByteBuffer a, int aStart, ByteBuffer b, int bStart, int n) {
      double s = 0;
      for (int l = 0; l < n; l++) {
        s += (double) a.getFloat(4 * (aStart + l)) * b.getFloat(4 * (bStart + l));
      }
      return s;
    }

    @Override
    public float maxAbs(ByteBuffer src, int start, int n) {
      float m = 0;
      for (int l = 0; l < n; l++) {
        m = Math.max(m, Math.abs(src.getFloat(4 * (start + l))));
      }
      return m;
    }
  }
}
