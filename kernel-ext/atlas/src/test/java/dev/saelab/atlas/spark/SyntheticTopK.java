package dev.saelab.atlas.spark;

import dev.saelab.atlas.AtlasRows;
import dev.saelab.atlas.AtlasRows.Type;
import dev.saelab.io.SaeLabException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * A stand-in atlas for the engine's own tests: each (layer, head, circuit) table is the exact top K
 * of a synthetic {@code n x n} matrix whose entries are a hash of their coordinates on a coarse
 * grid (so ties are common and the tie order is tested), and its units are (layer, circuit, head,
 * row block), as the real atlas's are. An optional delay per unit lets a test kill a worker while
 * units are in flight.
 *
 * @param layers layers 0 .. layers-1
 * @param heads heads per layer
 * @param features the matrix's side
 * @param rowBlock rows per unit
 * @param top entries per table
 * @param unitDelayMs sleep per unit (tests)
 * @param damagedFile when set, every unit fails as a damaged file of that name would (tests)
 */
public record SyntheticTopK(
    int layers,
    int heads,
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
   * @param head the head
   * @param row0 first row
   * @param row1 one past the last row
   */
  public record Unit(int layer, String circuit, int head, int row0, int row1)
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
        for (int h = 0; h < heads; h++) {
          for (int r = 0; r < features; r += rowBlock) {
            us.add(new Unit(l, c, h, r, Math.min(features, r + rowBlock)));
          }
        }
      }
    }
    return us;
  }

  @Override
  public String key(Unit u) {
    return "L" + u.layer + "-H" + u.head + "-" + u.circuit;
  }

  @Override
  public String kind(Unit u) {
    return u.circuit;
  }

  @Override
  public String id(Unit u) {
    return key(u) + "-r" + u.row0 + "-" + u.row1;
  }

  @Override
  public TopK run(Unit u) {
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
    TopK acc = TopK.empty();
    for (int i = u.row0; i < u.row1; i++) {
      int[] rows = new int[features];
      int[] cols = new int[features];
      double[] vals = new double[features];
      for (int j = 0; j < features; j++) {
        rows[j] = i;
        cols[j] = j;
        vals[j] = value(u.layer, u.head, u.circuit, i, j);
      }
      acc = TopK.merge(acc, TopK.of(rows, cols, vals, top), top);
    }
    return acc;
  }

  @Override
  public TopK merge(TopK a, TopK b) {
    return TopK.merge(a, b, top);
  }

  @Override
  public List<AtlasRows> rows(String key, TopK m) {
    String[] k = key.split("-");
    int layer = Integer.parseInt(k[0].substring(1));
    int head = Integer.parseInt(k[1].substring(1));
    String circuit = k[2];
    List<Object[]> rows = new ArrayList<>();
    for (int i = 0; i < m.vals.length; i++) {
      rows.add(new Object[] {circuit, layer, head, i + 1, m.rows[i], m.cols[i], m.vals[i]});
    }
    LinkedHashMap<String, String> part = new LinkedHashMap<>();
    part.put("layer", "" + layer);
    part.put("head", "" + head);
    part.put("circuit", circuit);
    return List.of(
        new AtlasRows(
            "table",
            part,
            List.of("circuit", "layer", "head", "rank", "query_feature", "key_feature", "value"),
            List.of(Type.STRING, Type.INT, Type.INT, Type.INT, Type.INT, Type.INT, Type.DOUBLE),
            rows));
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
