package dev.saelab.circuits;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** {@link RowScanner} on the JDK Vector API: compares a whole vector of keys against the threshold at once. */
final class VectorRowScanner implements RowScanner {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
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
}
