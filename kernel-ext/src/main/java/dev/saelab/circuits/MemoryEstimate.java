package dev.saelab.circuits;

import dev.saelab.io.SaeLabException;
import dev.saelab.linalg.FactoredProduct;
import dev.saelab.linalg.Screen;
import dev.saelab.model.ModelConfig;
import org.bytedeco.javacpp.Pointer;

/**
 * Memory a computation needs, checked before it starts: off-heap (projections, operand copies, GEMM
 * tiles) against JavaCPP's limit, and Java heap (the top-k heaps and the tables they become)
 * against the JVM's.
 */
public final class MemoryEstimate {
  private MemoryEstimate() {}

  /**
   * Java heap for per-head tables: {@code nHeads} QK tables of {@code kQk} entries and as many OV
   * tables of {@code kOv} entries ({@link FactoredProduct#EDGE_BYTES} each, all kept until the
   * end), one engine call's working set for the larger k ({@link FactoredProduct#workingHeapBytes}:
   * one heap per scanning worker, one more, and the sort), and, when QK values are scaled, the
   * scaled copy of one QK table.
   *
   * @param kQk entries per QK table after clamping to the table's size, 0 when QK is not computed
   * @param kOv entries per OV table after clamping, 0 when OV is not computed
   * @param workers scanning workers ({@link FactoredProduct#workers()})
   */
  public static long perHeadTables(int nHeads, long kQk, long kOv, int workers, boolean scaledQk) {
    long kept = nHeads * (kQk + kOv) * FactoredProduct.EDGE_BYTES;
    return kept
        + FactoredProduct.workingHeapBytes(Math.max(kQk, kOv), workers)
        + (scaledQk ? kQk * FactoredProduct.EDGE_BYTES : 0);
  }

  /**
   * Java heap of a summed table of {@code k} entries beyond its per-head tables: the engine call's
   * working set and each entry's per-head breakdown ({@link LayerTable.Edge}: an object of at most
   * 48 bytes and its list slot, two arrays of {@code nHeads} doubles with 16-byte headers).
   */
  public static long summedTable(int nHeads, long k, int workers) {
    return FactoredProduct.workingHeapBytes(k, workers) + k * (48 + 8 + 2 * (16 + 8L * nHeads));
  }

  /**
   * Throws a one-line message with the estimate when {@code bytes} exceeds the Java heap still free
   * (after asking for a collection once).
   */
  public static void requireHeap(long bytes, String what) {
    long free = heapFree();
    if (bytes > free) {
      System.gc();
      free = heapFree();
    }
    if (bytes > free) {
      throw new SaeLabException(
          what
              + " needs about "
              + mib(bytes)
              + " MiB of Java heap but only "
              + mib(free)
              + " MiB is available (maximum heap "
              + mib(Runtime.getRuntime().maxMemory())
              + " MiB); ask for fewer entries or raise the maximum with -Xmx");
    }
  }

  private static long heapFree() {
    Runtime rt = Runtime.getRuntime();
    return rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
  }

  /**
   * Rows of the decoder or encoder folded and projected at a time ({@link HeadProjections}): the
   * folded matrices never exist whole.
   */
  public static final int PROJECTION_BLOCK_ROWS = 4096;

  /**
   * Bytes for the Q, K, V, P projections, which are kept, and the transient work of making them:
   * one folded row block ({@link #PROJECTION_BLOCK_ROWS} rows) and its copy, and W_Oᵀ when there is
   * an output side. The decoders and encoder themselves are the caller's.
   */
  public static long projections(ModelConfig c, long nIn, long nKey, long nOut) {
    long d = c.dModel();
    long hq = (long) c.nHeads() * c.dHead();
    long hk = (long) c.nKvHeads() * c.dHead();
    long kept = nIn * hq + nKey * hk + nIn * hk + nOut * hq;
    long block = Math.min(PROJECTION_BLOCK_ROWS, Math.max(nIn, Math.max(nKey, nOut)));
    long work = 2 * block * d + (nOut > 0 ? d * hq : 0);
    return 4 * (kept + work);
  }

  /**
   * Bytes for one head's operand copies (unsorted, sorted, and either the int8 copy or the
   * transposed float blocks: at most three floats per element) and the GEMM tiles of either screen
   * (the larger: {@link #tables(ModelConfig, long, long, int, int, Screen)}).
   */
  public static long tables(ModelConfig c, long nRows, long nCols, int tileRows, int tileCols) {
    return Math.max(
        tables(c, nRows, nCols, tileRows, tileCols, Screen.INT8),
        tables(c, nRows, nCols, tileRows, tileCols, Screen.FP32));
  }

  /**
   * Bytes for one head's operand copies (at most three floats per element, as above) and the
   * screen's GEMM tiles ({@link FactoredProduct#tileBytes}: one int32 tile per worker for int8, one
   * float32 tile per shape of the grid for fp32).
   */
  public static long tables(
      ModelConfig c, long nRows, long nCols, int tileRows, int tileCols, Screen screen) {
    long dh = c.dHead();
    return 4 * 3 * (nRows * dh + nCols * dh)
        + FactoredProduct.tileBytes(
            screen, nRows, nCols, tileRows, tileCols, FactoredProduct.workers());
  }

  /**
   * Throws a message with the estimate when {@code bytes} exceeds what JavaCPP may still allocate.
   */
  public static void require(long bytes, String what) {
    long budget = Pointer.maxBytes() - Pointer.totalBytes();
    if (bytes > budget) {
      throw new SaeLabException(
          what
              + " needs about "
              + mib(bytes)
              + " MiB off-heap but only "
              + mib(budget)
              + " MiB is available (limit org.bytedeco.javacpp.maxbytes="
              + mib(Pointer.maxBytes())
              + " MiB); raise it with -Dorg.bytedeco.javacpp.maxbytes=... or use fewer features");
    }
  }

  static long mib(long b) {
    return b >> 20;
  }
}
