package dev.saelab.linalg;

import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The product {@code L·Rᵀ} of two factors given by their rows, {@code L [n_L, r]} and {@code R
 * [n_R, r]}, never formed: in the spirit of TransformerLens's {@code FactoredMatrix}, but asked
 * only for its exact top-k entries (the maths document, section 14: tiles screened in float32 or
 * int8, candidates rescored in double, norm-bound pruning; every screen gives the same entries in
 * the same order).
 *
 * <pre>
 * try (FactoredProduct.Workspace ws = new FactoredProduct.Workspace(2048, 16384, true, Screen.auto())) {
 *   List&lt;FeatureEdge&gt; top = new FactoredProduct(q, k).topK(1000, RankBy.ABS, false, ws, null);
 * }
 * </pre>
 *
 * <p>A product holds no resources; the {@link Workspace} it is computed in owns the scanning
 * threads and the off-heap tiles and operand copies, reused from one product to the next (a factor
 * passed again as the same array object, e.g. a KV head shared by query heads, is not prepared
 * again) until it is closed.
 */
public final class FactoredProduct {
  /**
   * Default tile rows of the float32 screen: a 2048 × 16384 tile (128 MiB) runs near ND4J's peak
   * GEMM rate.
   */
  public static final int FP32_TILE_ROWS = 2048;

  /** Default tile columns of the float32 screen. */
  public static final int FP32_TILE_COLS = 16384;

  /**
   * Default tile of the int8 screen, 512 × 4096 (8 MiB of int32), one per worker: each worker runs
   * its tiles' integer GEMMs on its own core and scans each tile straight after, from cache (a 1024
   * × 8192 tile computed on every core and then scanned, as before, spent as long reading it back
   * from memory as computing it). Measured: per core, the GEMM runs as fast as on larger tiles
   * (ND4J's per-call cost shows below ~256 rows).
   */
  public static final int INT8_TILE_ROWS = 512;

  /** Default int8 tile columns. */
  public static final int INT8_TILE_COLS = 4096;

  private final INDArray left;
  private final INDArray right;

  /**
   * The product of {@code left} and {@code right} (transposed). Either may be a strided view (one
   * head's columns of a fused projection); neither may change while a workspace uses it.
   */
  public FactoredProduct(INDArray left, INDArray right) {
    if (left.rank() != 2 || right.rank() != 2 || left.columns() != right.columns()) {
      throw new IllegalArgumentException(
          "factors "
              + java.util.Arrays.toString(left.shape())
              + " and "
              + java.util.Arrays.toString(right.shape())
              + ": expected matrices of the same width");
    }
    this.left = left;
    this.right = right;
  }

  /** L, the row factor. */
  public INDArray left() {
    return left;
  }

  /** R, the column factor. */
  public INDArray right() {
    return right;
  }

  /** n_L, rows of the product. */
  public long rows() {
    return left.rows();
  }

  /** n_R, columns of the product. */
  public long cols() {
    return right.rows();
  }

  /**
   * The top-k entries, best first (by key, then smaller row, then smaller column), computed in
   * {@code ws}.
   *
   * @param k entries to keep; more than the product has ({@link #entries}) gives all of them
   * @param rankBy ranking key
   * @param excludeDiagonal leave out entries with row == col
   * @param ws the workspace (threads, buffers, statistics)
   * @param progress called after each row block of tiles (may be null)
   */
  public List<FeatureEdge> topK(
      int k, RankBy rankBy, boolean excludeDiagonal, Workspace ws, Runnable progress) {
    if (k < 1) {
      throw new IllegalArgumentException("top-k " + k + ": expected a positive number of entries");
    }
    return ws.engine().topK(left, right, k, rankBy, excludeDiagonal, ws.stats, progress);
  }

  /**
   * The top-k in a workspace of its own (this JVM's default screen and tiles), released before
   * returning.
   */
  public List<FeatureEdge> topK(int k, RankBy rankBy, boolean excludeDiagonal) {
    Screen s = Screen.auto();
    try (Workspace ws =
        s == Screen.INT8
            ? new Workspace(INT8_TILE_ROWS, INT8_TILE_COLS, true, s)
            : new Workspace(FP32_TILE_ROWS, FP32_TILE_COLS, true, s)) {
      return topK(k, rankBy, excludeDiagonal, ws, null);
    }
  }

  /** Entries of this product: {@link #entries(long, long, boolean)} of its shape. */
  public long entries(boolean excludeDiagonal) {
    return entries(rows(), cols(), excludeDiagonal);
  }

  /**
   * Where products are computed: the engine's scanning threads, its off-heap GEMM tiles and operand
   * copies (reused across products), and tile statistics. Close it to free them.
   */
  public static final class Workspace implements AutoCloseable {
    private final Stats stats = new Stats();
    private TopKProduct engine;

    /**
     * @param tileRows rows per GEMM tile (e.g. {@link #FP32_TILE_ROWS})
     * @param tileCols columns per tile
     * @param prune skip tiles by the Cauchy–Schwarz norm bound (exact; off only for comparisons)
     * @param screen how tiles are computed before candidates are rescored exactly
     */
    public Workspace(int tileRows, int tileCols, boolean prune, Screen screen) {
      if (tileRows < 1 || tileCols < 1) {
        throw new IllegalArgumentException(
            "tile " + tileRows + " x " + tileCols + ": expected positive sizes");
      }
      this.engine =
          new TopKProduct(tileRows, tileCols, prune, screen == null ? Screen.auto() : screen);
    }

    /** Tile counts accumulated over every product computed here. */
    public Stats stats() {
      return stats;
    }

    private TopKProduct engine() {
      if (engine == null) {
        throw new IllegalStateException("the workspace is closed");
      }
      return engine;
    }

    /** Frees the off-heap memory and stops the scanning threads. */
    @Override
    public void close() {
      if (engine != null) {
        engine.release();
        engine = null;
      }
    }
  }

  /** Tile and rescoring counts. */
  public static final class Stats {
    long tiles;
    long skipped;
    long rescored;

    /** Tiles in the full grid. */
    public long tiles() {
      return tiles;
    }

    /** Tiles skipped by the norm bound. */
    public long skipped() {
      return skipped;
    }

    /** Entries that passed the screen and were rescored exactly. */
    public long rescored() {
      return rescored;
    }

    /** Adds another count (e.g. of another workspace) to this one. */
    public void add(Stats o) {
      tiles += o.tiles;
      skipped += o.skipped;
      rescored += o.rescored;
    }
  }

  /** Java heap per entry of a {@link TopKHeap}: key, value, row and column, 4 bytes each. */
  public static final int HEAP_ENTRY_BYTES = 16;

  /**
   * At most the Java heap one returned {@link FeatureEdge} takes: the object (a header of at most
   * 16 bytes and three 4-byte fields, padded to 32) and its slot in the list (at most 8).
   */
  public static final int EDGE_BYTES = 40;

  /**
   * At most the working memory per entry of {@link TopKHeap#sorted()}: a boxed index (16 bytes),
   * its list slot with the list's growth (8 × 1.5) and the sort's merge buffer (half a slot).
   */
  public static final int SORT_BYTES = 32;

  private static final TileKernels KERNELS = TileKernels.best();

  /**
   * The value the engine gives entry (a, b): the double-precision dot product of two float32 rows
   * of length {@code r}, summed as the engine's rescoring sums it, rounded once to float. For code
   * that screens its own tiles (e.g. every feature's partners) and must give the tables' values bit
   * for bit.
   *
   * @param a native-order float32 data of the first row's matrix
   * @param aStart element index of the first row's first entry
   * @param b native-order float32 data of the second row's matrix
   * @param bStart element index of the second row's first entry
   * @param r the inner width
   */
  public static float rescore(
      java.nio.ByteBuffer a, int aStart, java.nio.ByteBuffer b, int bStart, int r) {
    return (float) KERNELS.dot(a, aStart, b, bStart, r);
  }

  /**
   * A bound on how far a float32 tile entry (any summation order) and its key can be from the
   * rescored value of {@link #rescore}, in units of {@code ‖l‖·‖r‖} (norms in double): the engine's
   * own screening slack for inner width {@code r}.
   */
  public static double screenSlack(int r) {
    double u = Math.scalb(1.0, -24);
    double gamma = (r + 2) * u / (1 - (r + 2) * u);
    return (gamma + 2 * u) * (1 + 1e-9);
  }

  /**
   * Workers (each with its own heap of k entries): one per available core. The int8 screen runs one
   * tile GEMM per worker at a time, each on one core; the float32 screen's workers scan the tiles
   * its GEMM computes on every core.
   */
  public static int workers() {
    return Math.max(1, Runtime.getRuntime().availableProcessors());
  }

  /**
   * Bytes of the GEMM tiles a workspace holds for an {@code nRows × nCols} product: for the int8
   * screen one int32 tile per worker (the smaller tiles at the edges are views of it); for the
   * float32 screen one float32 tile of each shape the grid has (full, last row block, last column
   * block, corner).
   */
  public static long tileBytes(
      Screen screen, long nRows, long nCols, int tileRows, int tileCols, int workers) {
    long tr = Math.min(tileRows, nRows);
    long tc = Math.min(tileCols, nCols);
    if (screen == Screen.INT8) {
      return 4L * workers * tr * tc;
    }
    long lastRows = nRows % tr;
    long lastCols = nCols % tc;
    return 4L * (tr + lastRows) * (tc + lastCols);
  }

  /**
   * Entries of an {@code nRows × nCols} product: all of them, less the diagonal ({@code min(nRows,
   * nCols)} entries with row == col) when it is excluded. A top-k asks for at most this many; a
   * larger k is the whole table.
   */
  public static long entries(long nRows, long nCols, boolean excludeDiagonal) {
    return Math.max(0, nRows * nCols - (excludeDiagonal ? Math.min(nRows, nCols) : 0));
  }

  /**
   * Java heap one {@link #topK} call with k entries (after clamping to {@link #entries}) needs at
   * its peak: the heap of each of {@code workers} scanning workers, one more heap (the int8
   * screen's priming or the merge of the workers' heaps), and one heap being sorted into the
   * returned list ({@link #SORT_BYTES} + {@link #EDGE_BYTES} per entry).
   */
  public static long workingHeapBytes(long k, int workers) {
    return k * (HEAP_ENTRY_BYTES * (workers + 1L) + SORT_BYTES + EDGE_BYTES);
  }
}
