package dev.saelab.atlas.spark;

import dev.saelab.io.SaeLabException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * A stand-in atlas for the engine's own tests and benchmark: each (layer, head, circuit) table is
 * the exact top K of a synthetic {@code n x n} matrix whose entries are a hash of their coordinates
 * on a coarse grid (so ties are common and the tie order is tested), and its units are (layer,
 * circuit, head group, row block), as the real atlas's are. An optional delay per unit lets a test
 * kill a worker while units are in flight.
 *
 * @param layers layers 0 .. layers-1
 * @param heads heads per layer
 * @param headGroup heads per unit
 * @param features the matrix's side
 * @param rowBlock rows per unit
 * @param top entries per table
 * @param unitDelayMs sleep per unit (tests)
 * @param damagedFile when set, every unit fails as a damaged file of that name would (tests)
 */
public record SyntheticTopK(
    int layers,
    int heads,
    int headGroup,
    int features,
    int rowBlock,
    int top,
    long unitDelayMs,
    String damagedFile)
    implements UnitJob<SyntheticTopK.Unit, SyntheticTopK.TopK> {

  /** The circuits of each layer. */
  public static final List<String> CIRCUITS = List.of("qk", "ov");

  /**
   * A work unit.
   *
   * @param layer the layer
   * @param circuit qk or ov
   * @param head0 first head
   * @param head1 one past the last head
   * @param row0 first row
   * @param row1 one past the last row
   */
  public record Unit(int layer, String circuit, int head0, int head1, int row0, int row1)
      implements Serializable {}

  /** The entry at (row, col) of table (layer, head, circuit): an integer multiple of 1/16. */
  public static double value(int layer, int head, String circuit, int row, int col) {
    long h = 0x9E3779B97F4A7C15L;
    for (long x : new long[] {layer, head, circuit.equals("qk") ? 1 : 2, row, col}) {
      h ^= x + 0x9E3779B97F4A7C15L + (h << 6) + (h >>> 2);
      h *= 0xBF58476D1CE4E5B9L;
      h ^= h >>> 31;
    }
    return (Math.floorMod(h, 257) - 128) / 16.0;
  }

  @Override
  public List<Unit> units() {
    List<Unit> us = new ArrayList<>();
    for (int l = 0; l < layers; l++) {
      for (String c : CIRCUITS) {
        for (int h = 0; h < heads; h += headGroup) {
          for (int r = 0; r < features; r += rowBlock) {
            us.add(
                new Unit(
                    l, c, h, Math.min(heads, h + headGroup), r, Math.min(features, r + rowBlock)));
          }
        }
      }
    }
    return us;
  }

  @Override
  public List<TableKey> tables(Unit u) {
    List<TableKey> t = new ArrayList<>();
    for (int h = u.head0; h < u.head1; h++) {
      t.add(new TableKey(u.layer, h, u.circuit));
    }
    return t;
  }

  @Override
  public String describe(Unit u) {
    return String.format(
        Locale.ROOT,
        "L%d H%d-%d %s rows %d-%d",
        u.layer,
        u.head0,
        u.head1 - 1,
        u.circuit,
        u.row0,
        u.row1 - 1);
  }

  @Override
  public Map<TableKey, TopK> run(Unit u) {
    if (damagedFile != null) {
      throw new SaeLabException(damagedFile + ": not a zip archive (damaged or truncated)");
    }
    if (unitDelayMs > 0) {
      try {
        Thread.sleep(unitDelayMs);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }
    Map<TableKey, TopK> res = new LinkedHashMap<>();
    for (int h = u.head0; h < u.head1; h++) {
      TopK acc = TopK.empty();
      for (int i = u.row0; i < u.row1; i++) {
        int[] rows = new int[features];
        int[] cols = new int[features];
        double[] vals = new double[features];
        for (int j = 0; j < features; j++) {
          rows[j] = i;
          cols[j] = j;
          vals[j] = value(u.layer, h, u.circuit, i, j);
        }
        acc = TopK.merge(acc, TopK.of(rows, cols, vals, top), top);
      }
      res.put(new TableKey(u.layer, h, u.circuit), acc);
    }
    return res;
  }

  @Override
  public TopK merge(TopK a, TopK b) {
    return TopK.merge(a, b, top);
  }

  @Override
  public List<Row> rows(TableKey t, TopK m) {
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < m.vals.length; i++) {
      rows.add(
          RowFactory.create(
              t.circuit(), t.layer(), t.head(), i + 1, m.rows[i], m.cols[i], m.vals[i]));
    }
    return rows;
  }

  @Override
  public StructType schema() {
    return new StructType()
        .add("circuit", DataTypes.StringType, false)
        .add("layer", DataTypes.IntegerType, false)
        .add("head", DataTypes.IntegerType, false)
        .add("rank", DataTypes.IntegerType, false)
        .add("query_feature", DataTypes.IntegerType, false)
        .add("key_feature", DataTypes.IntegerType, false)
        .add("value", DataTypes.DoubleType, false);
  }

  /**
   * An exact top K: entries sorted by value (largest first), ties by row, then column.
   *
   * @param rows the entries' rows
   * @param cols their columns
   * @param vals their values
   */
  public record TopK(int[] rows, int[] cols, double[] vals) implements Serializable {
    static TopK empty() {
      return new TopK(new int[0], new int[0], new double[0]);
    }

    static boolean before(double va, int ra, int ca, double vb, int rb, int cb) {
      if (va != vb) {
        return va > vb;
      }
      return ra != rb ? ra < rb : ca < cb;
    }

    /** The top {@code k} of unsorted entries. */
    static TopK of(int[] rows, int[] cols, double[] vals, int k) {
      Integer[] idx = new Integer[vals.length];
      for (int i = 0; i < idx.length; i++) {
        idx[i] = i;
      }
      java.util.Arrays.sort(
          idx,
          (a, b) ->
              before(vals[a], rows[a], cols[a], vals[b], rows[b], cols[b])
                  ? -1
                  : before(vals[b], rows[b], cols[b], vals[a], rows[a], cols[a]) ? 1 : 0);
      int n = Math.min(k, idx.length);
      int[] r = new int[n];
      int[] c = new int[n];
      double[] v = new double[n];
      for (int i = 0; i < n; i++) {
        r[i] = rows[idx[i]];
        c[i] = cols[idx[i]];
        v[i] = vals[idx[i]];
      }
      return new TopK(r, c, v);
    }

    /** The top {@code k} of two sorted lists. */
    static TopK merge(TopK a, TopK b, int k) {
      int n = Math.min(k, a.vals.length + b.vals.length);
      int[] r = new int[n];
      int[] c = new int[n];
      double[] v = new double[n];
      int i = 0;
      int j = 0;
      for (int o = 0; o < n; o++) {
        boolean takeA =
            j >= b.vals.length
                || (i < a.vals.length
                    && before(a.vals[i], a.rows[i], a.cols[i], b.vals[j], b.rows[j], b.cols[j]));
        if (takeA) {
          r[o] = a.rows[i];
          c[o] = a.cols[i];
          v[o] = a.vals[i++];
        } else {
          r[o] = b.rows[j];
          c[o] = b.cols[j];
          v[o] = b.vals[j++];
        }
      }
      return new TopK(r, c, v);
    }
  }
}
