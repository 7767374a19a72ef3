package dev.saelab.circuits;

import dev.saelab.io.SaeLabException;
import dev.saelab.model.ModelConfig;
import org.bytedeco.javacpp.Pointer;

/** Off-heap memory needed by a computation, checked against JavaCPP's limit before any allocation. */
public final class MemoryEstimate {
  private MemoryEstimate() {}

  /** Bytes for the folded decoders/encoder and the Q, K, V, P projections. */
  public static long projections(ModelConfig c, long nIn, long nKey, long nOut) {
    long d = c.dModel();
    long hq = (long) c.nHeads() * c.dHead();
    long hk = (long) c.nKvHeads() * c.dHead();
    long floats = nIn * d + (nKey != nIn ? nKey * d : 0) + nIn * hq + nKey * hk + nIn * hk + 2 * nOut * d + nOut * hq;
    return 4 * floats;
  }

  /**
   * Bytes for one head's operand copies (unsorted, sorted, and either the int8 copy or the transposed float blocks:
   * at most three floats per element) and the GEMM tiles.
   */
  public static long tables(ModelConfig c, long nRows, long nCols, int tileRows, int tileCols) {
    long dh = c.dHead();
    long floats = 3 * (nRows * dh + nCols * dh) + 4L * Math.min(tileRows, nRows) * Math.min(tileCols, nCols);
    return 4 * floats;
  }

  /** Throws a message with the estimate when {@code bytes} exceeds what JavaCPP may still allocate. */
  public static void require(long bytes, String what) {
    long budget = Pointer.maxBytes() - Pointer.totalBytes();
    if (bytes > budget) {
      throw new SaeLabException(what + " needs about " + mib(bytes) + " MiB off-heap but only " + mib(budget)
          + " MiB is available (limit org.bytedeco.javacpp.maxbytes=" + mib(Pointer.maxBytes())
          + " MiB); raise it with -Dorg.bytedeco.javacpp.maxbytes=... or use fewer features");
    }
  }

  static long mib(long b) {
    return b >> 20;
  }
}
