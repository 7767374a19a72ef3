package dev.saelab.linalg;

import java.util.Locale;

/**
 * How the engine's tiles are computed before the exact rescoring of their candidates. Either way
 * every entry that could enter the table is rescored as the double-precision dot product of its two
 * float32 vectors (rounded once to float), so the screen changes the speed, never the table.
 */
public enum Screen {
  /**
   * float32 GEMM; an entry is a candidate when its value is within the GEMM's worst-case rounding
   * error ({@code γ_r·‖l‖·‖r‖}) of the heap's threshold.
   */
  FP32,
  /**
   * 7-bit integer GEMM (int8 inputs, exact int32 sums; oneDNN's VNNI kernels run it ~2.5× faster
   * than float32) with one scale per row and per group of columns; an entry is a candidate when it
   * is within the quantisation bound {@code ‖Δl‖·‖r‖ + ‖l̂‖·‖Δr‖} (residual norms measured exactly)
   * of the threshold.
   */
  INT8;

  /**
   * The default for this JVM: {@link #INT8} when ND4J runs its oneDNN build (where integer GEMM is
   * fast), otherwise {@link #FP32} (the generic build's integer GEMM is a slow loop).
   */
  public static Screen auto() {
    return "avx512".equals(dev.saelab.io.Backend.init()) ? INT8 : FP32;
  }

  /** Parses {@code auto}, {@code int8} or {@code fp32}. */
  public static Screen parse(String s) {
    switch (s.toLowerCase(Locale.ROOT)) {
      case "auto":
        return auto();
      case "int8":
        return INT8;
      case "fp32":
        return FP32;
      default:
        throw new IllegalArgumentException("tile screen " + s + ": expected auto, int8 or fp32");
    }
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
