package dev.saelab.circuits;

import dev.saelab.linalg.RankBy;
import java.util.EnumSet;
import java.util.Set;

/**
 * What to compute: which circuits, which heads, how many entries, ranked how, in which variant.
 *
 * @param kinds QK, OV or both (both share the projections)
 * @param heads query heads
 * @param topK entries per head and circuit
 * @param rankBy ranking key
 * @param excludeSelf drop i == j pairs (meaningful when both sides use the same SAE, i.e. QK)
 * @param queryScale multiply QK values by the model's query scale (1/√d_head; Gemma's
 *     query_pre_attn_scalar)
 * @param prune skip tiles by the Cauchy–Schwarz norm bound (exact; off only for testing and
 *     benchmarks)
 * @param cosine divide every value by the norms of its two vectors (cosine-normalised table)
 * @param position QK at query–key distance Δ with the model's RoPE, or null for the position-free
 *     product
 * @param pairing RoPE dimension pairing used with {@code position}
 */
public record CircuitSpec(
    Set<CircuitKind> kinds,
    HeadSet heads,
    int topK,
    RankBy rankBy,
    boolean excludeSelf,
    boolean queryScale,
    boolean prune,
    boolean cosine,
    Integer position,
    Rope.Pairing pairing) {

  /** Checks the components: a head set (not null) and the ranges of top-k and position. */
  public CircuitSpec {
    if (heads == null) {
      throw new IllegalArgumentException(
          "heads: expected a head set (HeadSet.all() for every head)");
    }
    if (topK < 1) {
      throw new IllegalArgumentException(
          "top-k " + topK + ": expected a positive number of entries");
    }
    if (position != null && position < 0) {
      throw new IllegalArgumentException(
          "position Δ " + position + ": expected a distance ≥ 0 (query after key)");
    }
  }

  /**
   * Defaults: QK and OV, all heads, top 1000 by |value|, self pairs kept, raw scale, pruning on.
   */
  public static CircuitSpec defaults() {
    return new CircuitSpec(
        EnumSet.allOf(CircuitKind.class),
        HeadSet.all(),
        1000,
        RankBy.ABS,
        false,
        false,
        true,
        false,
        null,
        Rope.Pairing.ROTATE_HALF);
  }

  /** A copy computing only {@code kinds}. */
  public CircuitSpec withKinds(Set<CircuitKind> k) {
    return new CircuitSpec(
        EnumSet.copyOf(k),
        heads,
        topK,
        rankBy,
        excludeSelf,
        queryScale,
        prune,
        cosine,
        position,
        pairing);
  }

  /** A copy for the given heads. */
  public CircuitSpec withHeads(HeadSet h) {
    return new CircuitSpec(
        kinds, h, topK, rankBy, excludeSelf, queryScale, prune, cosine, position, pairing);
  }

  /** A copy for the given heads ({@link HeadSet#of}: sorted, repeats dropped). */
  public CircuitSpec withHeads(int... h) {
    return withHeads(HeadSet.of(h));
  }

  /** A copy keeping {@code k} entries per head. */
  public CircuitSpec withTopK(int k) {
    return new CircuitSpec(
        kinds, heads, k, rankBy, excludeSelf, queryScale, prune, cosine, position, pairing);
  }

  /** A copy ranked by {@code r}. */
  public CircuitSpec withRankBy(RankBy r) {
    return new CircuitSpec(
        kinds, heads, topK, r, excludeSelf, queryScale, prune, cosine, position, pairing);
  }

  /** A copy with self pairs excluded (or kept). */
  public CircuitSpec withExcludeSelf(boolean e) {
    return new CircuitSpec(
        kinds, heads, topK, rankBy, e, queryScale, prune, cosine, position, pairing);
  }

  /** A copy with QK values multiplied by the model's query scale (or raw). */
  public CircuitSpec withQueryScale(boolean q) {
    return new CircuitSpec(
        kinds, heads, topK, rankBy, excludeSelf, q, prune, cosine, position, pairing);
  }

  /** A copy with pruning on or off. */
  public CircuitSpec withPrune(boolean p) {
    return new CircuitSpec(
        kinds, heads, topK, rankBy, excludeSelf, queryScale, p, cosine, position, pairing);
  }

  /** A copy with cosine-normalised values (or raw). */
  public CircuitSpec withCosine(boolean c) {
    return new CircuitSpec(
        kinds, heads, topK, rankBy, excludeSelf, queryScale, prune, c, position, pairing);
  }

  /**
   * A copy scoring QK at distance {@code delta} (null: no position) with RoPE pairing {@code p}.
   */
  public CircuitSpec withPosition(Integer delta, Rope.Pairing p) {
    return new CircuitSpec(
        kinds,
        heads,
        topK,
        rankBy,
        excludeSelf,
        queryScale,
        prune,
        cosine,
        delta,
        p == null ? Rope.Pairing.ROTATE_HALF : p);
  }
}
