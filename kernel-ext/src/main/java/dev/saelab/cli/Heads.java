package dev.saelab.cli;

import java.util.Arrays;
import picocli.CommandLine.TypeConversionException;

/**
 * The value of {@code --heads}: all query heads, the layer's circuit summed over heads ({@code sum}), or a list,
 * sorted and without repeats ({@code 1,1} is head 1 once).
 *
 * @param sum the summed circuit
 * @param list the heads, or null for all
 */
public record Heads(boolean sum, int[] list) {
  /** All heads. */
  public static final Heads ALL = new Heads(false, null);

  /** Parses {@code all}, {@code sum} or {@code 0,3,5}. */
  public static Heads parse(String s) {
    if (s.equals("all")) {
      return ALL;
    }
    if (s.equals("sum")) {
      return new Heads(true, null);
    }
    int[] h;
    try {
      h = Arrays.stream(s.split(",")).map(String::strip).mapToInt(Integer::parseInt).sorted().distinct().toArray();
    } catch (NumberFormatException e) {
      throw new TypeConversionException("expected all, sum or a list like 0,3,5");
    }
    if (h.length == 0 || h[0] < 0) {
      throw new TypeConversionException("expected all, sum or a list of heads ≥ 0 like 0,3,5");
    }
    return new Heads(false, h);
  }

  /** The heads to use for a model with {@code nHeads} query heads, each checked. */
  public int[] resolve(int nHeads) {
    if (list == null) {
      return java.util.stream.IntStream.range(0, nHeads).toArray();
    }
    for (int x : list) {
      if (x >= nHeads) {
        throw new IllegalArgumentException("--heads " + this + ": head " + x + " is not in 0.." + (nHeads - 1));
      }
    }
    return list.clone();
  }

  /** The heads, or null for all (checked against {@code nHeads}). */
  public int[] listOrNull(int nHeads) {
    return list == null ? null : resolve(nHeads);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Heads h && h.sum == sum && Arrays.equals(h.list, list);
  }

  @Override
  public int hashCode() {
    return 31 * Boolean.hashCode(sum) + Arrays.hashCode(list);
  }

  @Override
  public String toString() {
    return sum ? "sum" : list == null ? "all" : String.join(",", Arrays.stream(list).mapToObj(String::valueOf)
        .toArray(String[]::new));
  }
}
