package dev.saelab.linalg;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An int8 copy of the rows of a float32 matrix with what the screening bound needs, measured
 * against the float32 rows (in double, or bounded with the float arithmetic's rounding): row {@code
 * i} of group {@code g} is {@code scale[g]·q[i] + residual} with {@code |q| ≤ LEVELS}; {@code
 * residualNorm[g]} is the largest {@code ‖residual‖} in the group, {@code quantNorm[g]} the largest
 * {@code ‖scale·q‖} and {@code norm[g]} the largest {@code ‖row‖}.
 *
 * <p>Groups are runs of consecutive rows (one row per group for the left operand; {@link #GROUP}
 * rows for the right one, whose rows are sorted by norm, so a group shares one scale at little cost
 * in precision).
 */
final class QuantizedRows {
  /** Rows per column group of the right operand. */
  static final int GROUP = 512;

  /**
   * Largest quantised magnitude: 127 on CPUs with VNNI (int8 products summed straight into int32),
   * else 63, so that no integer GEMM kernel can saturate a 16-bit sum of two products ({@code
   * 2·(63+128)·63 < 2^15}).
   */
  static final int LEVELS = dev.saelab.io.Backend.hasVnni() ? 127 : 63;

  /** Per-thread row buffers of {@link #quantizeRow}. */
  private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);

  private static final ThreadLocal<byte[]> QROW = ThreadLocal.withInitial(() -> new byte[0]);

  final int groupSize;
  final double[] scale;
  final double[] residualNorm;
  final double[] quantNorm;
  final double[] norm;

  private QuantizedRows(int groups, int groupSize) {
    this.groupSize = groupSize;
    scale = new double[groups];
    residualNorm = new double[groups];
    quantNorm = new double[groups];
    norm = new double[groups];
  }

  /**
   * Quantises {@code src} (c-order float32 {@code [n, r]}) into {@code dst} (c-order int8 {@code
   * [n, r]}).
   *
   * @param groupSize rows sharing one scale
   * @param rowNorms the exact norm of every row of {@code src}
   * @param kernels the row-maximum loop to use
   */
  static QuantizedRows of(
      INDArray src, INDArray dst, int groupSize, double[] rowNorms, TileKernels kernels) {
    int n = src.rows();
    int r = src.columns();
    ByteBuffer in = src.data().asNio().order(ByteOrder.nativeOrder());
    ByteBuffer out = dst.data().asNio();
    int groups = (n + groupSize - 1) / groupSize;
    QuantizedRows q = new QuantizedRows(groups, groupSize);
    // groups are independent: quantise them on every core (the caller's thread and the common pool)
    java.util.stream.IntStream.range(0, groups)
        .parallel()
        .forEach(
            g -> {
              double[] sums = new double[2];
              int from = g * groupSize;
              int to = Math.min(n, from + groupSize);
              float maxAbs = 0;
              for (int i = from; i < to; i++) {
                maxAbs = Math.max(maxAbs, kernels.maxAbs(in, i * r, r));
              }
              float s = maxAbs / LEVELS;
              q.scale[g] = s;
              for (int i = from; i < to; i++) {
                quantizeRow(in, i * r, out, i * r, r, s, sums);
                q.residualNorm[g] = Math.max(q.residualNorm[g], Math.sqrt(sums[0]));
                q.quantNorm[g] = Math.max(q.quantNorm[g], s * Math.sqrt(sums[1]));
                q.norm[g] = Math.max(q.norm[g], rowNorms[i]);
              }
            });
    return q;
  }

  /**
   * Quantises {@code src[srcStart .. +n)} (float32) to {@code q = round(x / scale)} clamped to
   * {@code ±LEVELS}, written as int8 to {@code dst[dstStart ..]}; stores in {@code out[0]} {@code Σ
   * (x − scale·q)²} (in double, exact but for the final sums) and in {@code out[1]} the exact
   * {@code Σ q²}. A plain loop on heap copies of the row: JDK 17's Vector API float→int→byte
   * conversions are not compiled to vector instructions and ran 3–5× slower.
   */
  private static void quantizeRow(
      ByteBuffer src,
      int srcStart,
      ByteBuffer dst,
      int dstStart,
      int n,
      float scale,
      double[] out) {
    float[] x = ROW.get();
    byte[] q = QROW.get();
    if (x.length < n) {
      x = new float[n];
      q = new byte[n];
      ROW.set(x);
      QROW.set(q);
    }
    src.asFloatBuffer().get(srcStart, x, 0, n);
    float inv = scale == 0 ? 0f : 1f / scale;
    double res = 0;
    long quant = 0;
    for (int l = 0; l < n; l++) {
      int v = Math.max(-LEVELS, Math.min(LEVELS, (int) Math.rint(x[l] * inv)));
      q[l] = (byte) v;
      double d = x[l] - (double) scale * v; // scale·v is exact in double (24 + 7 bits)
      res += d * d;
      quant += (long) v * v;
    }
    dst.put(dstStart, q, 0, n);
    out[0] = res * (1 + 1e-12);
    out[1] = quant;
  }
}
