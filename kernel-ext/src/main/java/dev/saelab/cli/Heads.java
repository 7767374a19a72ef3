package dev.saelab.cli;

import dev.saelab.circuits.HeadSet;

/**
 * The value of {@code --heads}: a set of query heads ({@code all}, or {@code 0,3,5} sorted and
 * without repeats), or {@code sum}: the layer's circuit summed over all heads.
 *
 * @param sum the summed circuit
 * @param set the heads (all heads with {@code sum})
 */
public record Heads(boolean sum, HeadSet set) {
  /** Parses {@code all}, {@code sum} or {@code 0,3,5}. */
  public static Heads parse(String s) {
    if (s.equals("sum")) {
      return new Heads(true, HeadSet.all());
    }
    return new Heads(false, Converters.domain(s, HeadSet::parse));
  }

  /**
   * The heads for a model with {@code nHeads} query heads, each checked; one line naming the flag
   * otherwise.
   */
  public int[] resolve(int nHeads) {
    try {
      return set.resolve(nHeads);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--heads " + this + ": " + e.getMessage());
    }
  }

  @Override
  public String toString() {
    return sum ? "sum" : set.toString();
  }
}
