package dev.saelab.linalg;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link TileKernels} on the JDK Vector API: compares a whole vector of keys against the threshold
 * at once.
 */
final class VectorTileKernels implements TileKernels {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
  private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

  /** Floats as many as D's lanes, widened to doubles for the exact dot product. */
  private static final VectorSpecies<Float> HALF =
      VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));

  private static final ByteOrder ORDER = ByteOrder.nativeOrder();

  @Override
  public int next(ByteBuffer tile, int rowStart, int from, int cols, float t, RankBy rankBy) {
    int c = from;
    int base = rowStart * 4;
    int lanes = S.length();
    int upper = from + (cols - from) / lanes * lanes;
    for (; c < upper; c += lanes) {
      FloatVector v = FloatVector.fromByteBuffer(S, tile, base + 4 * c, ORDER);
      VectorMask<Float> m;
      switch (rankBy) {
        case ABS:
          m = v.abs().compare(VectorOperators.GE, t);
          break;
        case VALUE:
          m = v.compare(VectorOperators.GE, t);
          break;
        default:
          m = v.compare(VectorOperators.LE, -t);
          break;
      }
      if (m.anyTrue()) {
        return c + m.firstTrue();
      }
    }
    for (; c < cols; c++) {
      if (rankBy.key(tile.getFloat(base + 4 * c)) >= t) {
        return c;
      }
    }
    return cols;
  }

  @Override
  public int nextInt(ByteBuffer tile, int rowStart, int from, int to, int t, RankBy rankBy) {
    int c = from;
    int base = rowStart * 4;
    int lanes = I.length();
    int upper = from + (to - from) / lanes * lanes;
    for (; c < upper; c += lanes) {
      IntVector v = IntVector.fromByteBuffer(I, tile, base + 4 * c, ORDER);
      VectorMask<Integer> m;
      switch (rankBy) {
        case ABS:
          m = v.abs().compare(VectorOperators.GE, t);
          break;
        case VALUE:
          m = v.compare(VectorOperators.GE, t);
          break;
        default:
          m = v.compare(VectorOperators.LE, -t);
          break;
      }
      if (m.anyTrue()) {
        return c + m.firstTrue();
      }
    }
    for (; c < to; c++) {
      if (TileKernels.intKey(tile.getInt(base + 4 * c), rankBy) >= t) {
        return c;
      }
    }
    return to;
  }

  @Override
  public int maxIntKey(ByteBuffer tile, int rowStart, int from, int to, RankBy rankBy) {
    int base = rowStart * 4;
    int lanes = I.length();
    int c = from;
    int upper = from + (to - from) / (2 * lanes) * (2 * lanes);
    long m = Integer.MIN_VALUE;
    if (upper > from) {
      // two accumulators overlap the loads; -c's largest key is minus the smallest c
      boolean neg = rankBy == RankBy.NEG_VALUE;
      IntVector m0 = IntVector.broadcast(I, neg ? Integer.MAX_VALUE : Integer.MIN_VALUE);
      IntVector m1 = m0;
      for (; c < upper; c += 2 * lanes) {
        IntVector v0 = IntVector.fromByteBuffer(I, tile, base + 4 * c, ORDER);
        IntVector v1 = IntVector.fromByteBuffer(I, tile, base + 4 * (c + lanes), ORDER);
        switch (rankBy) {
          case ABS:
            m0 = m0.max(v0.abs());
            m1 = m1.max(v1.abs());
            break;
          case VALUE:
            m0 = m0.max(v0);
            m1 = m1.max(v1);
            break;
          default:
            m0 = m0.min(v0);
            m1 = m1.min(v1);
            break;
        }
      }
      m =
          neg
              ? -(long) m0.min(m1).reduceLanes(VectorOperators.MIN)
              : m0.max(m1).reduceLanes(VectorOperators.MAX);
    }
    for (; c < to; c++) {
      m = Math.max(m, TileKernels.intKey(tile.getInt(base + 4 * c), rankBy));
    }
    return (int) m;
  }

  @Override
  public double dot(ByteBuffer a, int aStart, ByteBuffer b, int bStart, int n) {
    int lanes = D.length();
    DoubleVector acc = DoubleVector.zero(D);
    int l = 0;
    int upper = n / lanes * lanes;
    for (; l < upper; l += lanes) {
      DoubleVector x =
          (DoubleVector)
              FloatVector.fromByteBuffer(HALF, a, 4 * (aStart + l), ORDER)
                  .convertShape(VectorOperators.F2D, D, 0);
      DoubleVector y =
          (DoubleVector)
              FloatVector.fromByteBuffer(HALF, b, 4 * (bStart + l), ORDER)
                  .convertShape(VectorOperators.F2D, D, 0);
      acc = x.fma(y, acc);
    }
    double s = acc.reduceLanes(VectorOperators.ADD);
    for (; l < n; l++) {
      s += (double) a.getFloat(4 * (aStart + l)) * b.getFloat(4 * (bStart + l));
    }
    return s;
  }

  @Override
  public float maxAbs(ByteBuffer src, int start, int n) {
    int lanes = S.length();
    FloatVector m = FloatVector.zero(S);
    int l = 0;
    int upper = n / lanes * lanes;
    for (; l < upper; l += lanes) {
      m = m.max(FloatVector.fromByteBuffer(S, src, 4 * (start + l), ORDER).abs());
    }
    float out = m.reduceLanes(VectorOperators.MAX);
    for (; l < n; l++) {
      out = Math.max(out, Math.abs(src.getFloat(4 * (start + l))));
    }
    return out;
  }
}
