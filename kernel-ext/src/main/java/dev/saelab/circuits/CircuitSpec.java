package dev.saelab.circuits;

import java.util.EnumSet;
import java.util.Set;

/**
 * What to compute: which circuits, which heads, how many entries, ranked how.
 *
 * @param kinds QK, OV or both (both share the projections)
 * @param heads query heads, or null for all
 * @param topK entries per head and circuit
 * @param rankBy ranking key
 * @param excludeSelf drop i == j pairs (meaningful when both sides use the same SAE, i.e. QK)
 * @param queryScale multiply QK values by the model's query scale (1/√d_head; Gemma's query_pre_attn_scalar)
 * @param prune skip tiles by the Cauchy–Schwarz norm bound (exact; off only for testing and benchmarks)
 */
public record CircuitSpec(Set<CircuitKind> kinds, int[] heads, int topK, RankBy rankBy, boolean excludeSelf,
    boolean queryScale, boolean prune) {

  /** Defaults: QK and OV, all heads, top 1000 by |value|, self pairs kept, raw scale, pruning on. */
  public static CircuitSpec defaults() {
    return new CircuitSpec(EnumSet.allOf(CircuitKind.class), null, 1000, RankBy.ABS, false, false, true);
  }

  /** A copy computing only {@code kinds}. */
  public CircuitSpec withKinds(Set<CircuitKind> k) {
    return new CircuitSpec(EnumSet.copyOf(k), heads, topK, rankBy, excludeSelf, queryScale, prune);
  }

  /** A copy for the given heads (null: all). */
  public CircuitSpec withHeads(int... h) {
    return new CircuitSpec(kinds, h, topK, rankBy, excludeSelf, queryScale, prune);
  }

  /** A copy keeping {@code k} entries per head. */
  public CircuitSpec withTopK(int k) {
    if (k < 1) {
      throw new IllegalArgumentException("--top " + k + ": expected a positive number of entries");
    }
    return new CircuitSpec(kinds, heads, k, rankBy, excludeSelf, queryScale, prune);
  }

  /** A copy ranked by {@code r}. */
  public CircuitSpec withRankBy(RankBy r) {
    return new CircuitSpec(kinds, heads, topK, r, excludeSelf, queryScale, prune);
  }

  /** A copy with self pairs excluded (or kept). */
  public CircuitSpec withExcludeSelf(boolean e) {
    return new CircuitSpec(kinds, heads, topK, rankBy, e, queryScale, prune);
  }

  /** A copy with QK values multiplied by the model's query scale (or raw). */
  public CircuitSpec withQueryScale(boolean q) {
    return new CircuitSpec(kinds, heads, topK, rankBy, excludeSelf, q, prune);
  }

  /** A copy with pruning on or off. */
  public CircuitSpec withPrune(boolean p) {
    return new CircuitSpec(kinds, heads, topK, rankBy, excludeSelf, queryScale, p);
  }
}
