package dev.saelab.circuits;

import java.util.Locale;

/**
 * One head → head composition (Elhage et al., "A Mathematical Framework for Transformer Circuits"):
 * head A (the source, layer l1) writes to the residual stream through its OV circuit, head B (the
 * target, layer l2 &gt; l1) reads that write with its query side (Q-composition), key side
 * (K-composition) or value side (V-composition). With the folded matrices of {@link Composition}
 * ({@code OV^A}, {@code QK^B}, {@code OV^B}, rows acting on the right):
 *
 * <pre>
 * M_Q = OV^A·QK^B     M_K = OV^A·(QK^B)ᵀ     M_V = OV^A·OV^B
 * score = ‖M‖_F / (‖OV^A‖_F·‖W_B‖_F)          W_B = QK^B, (QK^B)ᵀ or OV^B
 * </pre>
 *
 * (kernel-ext/docs/math.md §19).
 *
 * @param sourceLayer layer of head A
 * @param sourceHead query head A (its value head is its KV head)
 * @param targetLayer layer of head B
 * @param targetHead query head B
 * @param kind which side of B reads A's write
 * @param score {@code ‖M‖_F / (‖OV^A‖_F·‖W_B‖_F)}, between 0 and 1
 * @param compositeNorm {@code ‖M‖_F}
 * @param sourceNorm {@code ‖OV^A‖_F}
 * @param targetNorm {@code ‖W_B‖_F}
 */
public record CompositionPath(
    int sourceLayer,
    int sourceHead,
    int targetLayer,
    int targetHead,
    Kind kind,
    double score,
    double compositeNorm,
    double sourceNorm,
    double targetNorm) {

  /** Which side of the later head reads the earlier head's write. */
  public enum Kind {
    /** B's query side reads A's output: {@code OV^A·QK^B}. */
    Q,
    /** B's key side reads A's output: {@code OV^A·(QK^B)ᵀ}. */
    K,
    /** B's value side reads A's output: {@code OV^A·OV^B}. */
    V;

    /** {@code q}, {@code k} or {@code v}. */
    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code q}, {@code k} or {@code v} (any case). */
    public static Kind parse(String s) {
      return switch (s.strip().toLowerCase(Locale.ROOT)) {
        case "q" -> Q;
        case "k" -> K;
        case "v" -> V;
        default -> throw new IllegalArgumentException("composition " + s + ": expected q, k or v");
      };
    }
  }

  /** Head A, e.g. {@code L0H1}. */
  public String source() {
    return "L" + sourceLayer + "H" + sourceHead;
  }

  /** Head B, e.g. {@code L1H2}. */
  public String target() {
    return "L" + targetLayer + "H" + targetHead;
  }

  /** {@code Q L0H1 -> L1H2 0.9277}. */
  @Override
  public String toString() {
    return String.format(Locale.ROOT, "%s %s -> %s %.4f", kind, source(), target(), score);
  }
}
