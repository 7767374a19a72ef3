package dev.saelab.circuits;

import java.nio.ByteOrder;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The top-k entries of {@code L · Rᵀ} ({@code L [nL, r]}, {@code R [nR, r]}) without materialising the
 * {@code nL × nR} matrix: blockwise GEMM into a reused off-heap tile, then one pass over the tile's buffer that
 * compares whole vectors of keys with the heap's current threshold ({@link RowScanner}), so only the rare entries
 * that can enter the bounded heap are looked at one by one.
 *
 * <p>Exact norm-bound pruning: rows of L and R are sorted by L2 norm (descending); a tile whose Cauchy–Schwarz
 * bound {@code max‖l‖ · max‖r‖} is below the current k-th key is skipped, and so is every tile after it in its row
 * block (norms only decrease). The bound carries a relative margin of 1e-3 for float rounding, so pruning never
 * changes the result.
 */
public final class TopKProduct {
  /** Statistics of one run. */
  public static final class Stats {
    long tiles;
    long skipped;

    /** Tiles in the full grid. */
    public long tiles() {
      return tiles;
    }

    /** Tiles skipped by the norm bound. */
    public long skipped() {
      return skipped;
    }

    void add(Stats o) {
      tiles += o.tiles;
      skipped += o.skipped;
    }
  }

  private final int tileRows;
  private final int tileCols;
  private final boolean prune;
  private final Map<Long, INDArray> tiles = new HashMap<>();
  private final Map<Long, ByteBuffer> views = new HashMap<>();
  private final Map<String, INDArray> scratch = new HashMap<>();
  private final RowScanner scanner = RowScanner.best();

  /**
   * @param tileRows rows per tile (e.g. 1024)
   * @param tileCols columns per tile (e.g. 8192)
   * @param prune whether to skip tiles by the norm bound
   */
  public TopKProduct(int tileRows, int tileCols, boolean prune) {
    this.tileRows = tileRows;
    this.tileCols = tileCols;
    this.prune = prune;
  }

  /**
   * Computes the top-k of {@code L · Rᵀ}.
   *
   * @param left L (may be a strided view, e.g. one head's columns of a fused projection)
   * @param right R (may be a strided view), same inner width
   * @param k entries to keep
   * @param rankBy ranking
   * @param excludeDiagonal skip entries with row == col
   * @param stats receives tile counts (may be null)
   * @param progress called after each tile row
   * @return the entries, best first (ties: smaller row, then smaller column)
   */
  public List<FeatureEdge> topK(INDArray left, INDArray right, int k, RankBy rankBy, boolean excludeDiagonal,
      Stats stats, Runnable progress) {
    int nL = (int) left.rows();
    int nR = (int) right.rows();
    TopKHeap heap = new TopKHeap(k);
    Stats st = new Stats();
    float[] rawL = norms(left);
    float[] rawR = norms(right);
    int[] permL = sortedByNorm(rawL);
    int[] permR = sortedByNorm(rawR);
    float[] normL = permute(rawL, permL);
    float[] normR = permute(rawR, permR);
    int r = (int) left.columns();
    // Scratch arrays are reused across calls with the same shapes (every head of a layer): allocating and freeing
    // tens of MB per head fragments the native heap and made RSS grow by ~80 MB per head.
    INDArray ls = Nd4j.pullRows(left, scratch("ls", nL, r), 1, permL);
    int tr = Math.min(tileRows, nL);
    int tc = Math.min(tileCols, nR);
    // Column blocks of R, sorted and pre-transposed to [r, cols] c-order: ND4J's GEMM runs ~1.3x faster than with
    // the transpose flag.
    INDArray rs = Nd4j.pullRows(right, scratch("rs", nR, r), 1, permR);
    List<INDArray> rBlocks = new java.util.ArrayList<>();
    for (int c0 = 0; c0 < nR; c0 += tc) {
      int cols = Math.min(nR, c0 + tc) - c0;
      INDArray block = scratch("rT" + c0, r, cols);
      block.assign(rs.get(NDArrayIndex.interval(c0, c0 + cols), NDArrayIndex.all()).transpose());
      rBlocks.add(block);
    }
    long rowBlocks = (nL + tr - 1) / tr;
    long colBlocks = (nR + tc - 1) / tc;
    st.tiles = rowBlocks * colBlocks;
    for (int r0 = 0; r0 < nL; r0 += tr) {
      if (Thread.currentThread().isInterrupted()) {
        throw new CancellationException("interrupted");
      }
      int rows = Math.min(tr, nL - r0);
      INDArray a = ls.get(NDArrayIndex.interval(r0, r0 + rows), NDArrayIndex.all());
      for (int c0 = 0; c0 < nR; c0 += tc) {
        int cols = Math.min(tc, nR - c0);
        if (prune && heap.full()) {
          double bound = (double) normL[r0] * normR[c0] * (1 + 1e-3) + 1e-30;
          if (bound < heap.threshold()) {
            long remaining = (nR - c0 + tc - 1) / tc;
            st.skipped += remaining;
            break; // later column blocks have smaller norms still
          }
        }
        INDArray tile = tile(rows, cols);
        Nd4j.gemm(a, rBlocks.get(c0 / tc), tile, false, false, 1.0, 0.0);
        scan(views.get(key(rows, cols)), rows, cols, r0, c0, permL, permR, heap, rankBy, excludeDiagonal);
      }
      if (progress != null) {
        progress.run();
      }
    }
    if (stats != null) {
      stats.add(st);
    }
    return heap.sorted();
  }

  private void scan(ByteBuffer tile, int rows, int cols, int r0, int c0, int[] permL, int[] permR, TopKHeap heap,
      RankBy rankBy, boolean excludeDiagonal) {
    for (int r = 0; r < rows; r++) {
      int origRow = permL[r0 + r];
      int rowStart = r * cols;
      float t = heap.threshold();
      for (int c = scanner.next(tile, rowStart, 0, cols, t, rankBy); c < cols;
          c = scanner.next(tile, rowStart, c + 1, cols, t, rankBy)) {
        int origCol = permR[c0 + c];
        if (excludeDiagonal && origRow == origCol) {
          continue;
        }
        float v = tile.getFloat(4 * (rowStart + c));
        heap.offer(rankBy.key(v), v, origRow, origCol);
        t = heap.threshold();
      }
    }
  }

  private INDArray scratch(String name, int rows, int cols) {
    return scratch.computeIfAbsent(name + ":" + rows + "x" + cols,
        kk -> Nd4j.createUninitialized(DataType.FLOAT, new long[] {rows, cols}, 'c'));
  }

  private static float[] norms(INDArray m) {
    try (INDArray n = m.norm2(1)) {
      return n.toFloatVector();
    }
  }

  private static long key(int rows, int cols) {
    return ((long) rows << 32) | cols;
  }

  private INDArray tile(int rows, int cols) {
    return tiles.computeIfAbsent(key(rows, cols), kk -> {
      INDArray t = Nd4j.createUninitialized(DataType.FLOAT, new long[] {rows, cols}, 'c');
      views.put(kk, t.data().asNio().order(ByteOrder.nativeOrder()));
      return t;
    });
  }

  /** Releases the tiles' off-heap memory. */
  public void release() {
    tiles.values().forEach(INDArray::close);
    tiles.clear();
    views.clear();
    scratch.values().forEach(INDArray::close);
    scratch.clear();
  }

  /** Row indices ordered by norm, largest first (ties: smaller index first). */
  static int[] sortedByNorm(float[] n) {
    Integer[] idx = new Integer[n.length];
    for (int i = 0; i < n.length; i++) {
      idx[i] = i;
    }
    java.util.Arrays.sort(idx, (x, y) -> n[x] != n[y] ? Float.compare(n[y], n[x]) : Integer.compare(x, y));
    int[] out = new int[n.length];
    for (int i = 0; i < n.length; i++) {
      out[i] = idx[i];
    }
    return out;
  }

  private static float[] permute(float[] n, int[] perm) {
    float[] out = new float[perm.length];
    for (int i = 0; i < perm.length; i++) {
      out[i] = n[perm[i]];
    }
    return out;
  }
}
