package dev.saelab.circuits;

import dev.saelab.model.ModelConfig;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * A set of query heads of one layer: every head ({@link #all()}), or chosen heads ({@link
 * #of(int...)}) kept sorted and without repeats, so {@code of(3, 1, 1)} is heads 1 and 3.
 * Immutable, with value equality. Which heads exist depends on the model: {@link
 * #resolve(ModelConfig)} turns a set into head indices checked against n_heads.
 *
 * <p>The summed circuit ("sum" on the command line) is not a head set: it is a different
 * computation.
 */
public final class HeadSet {
  private static final HeadSet ALL = new HeadSet(null);

  /** Sorted, distinct, non-negative; null for every head. */
  private final int[] heads;

  private HeadSet(int[] heads) {
    this.heads = heads;
  }

  /** Every query head of the layer. */
  public static HeadSet all() {
    return ALL;
  }

  /** The given query heads, sorted and without repeats; at least one, none negative. */
  public static HeadSet of(int... heads) {
    if (heads == null || heads.length == 0) {
      throw new IllegalArgumentException(
          "a head set needs at least one head (HeadSet.all() for every head)");
    }
    for (int h : heads) {
      if (h < 0) {
        throw new IllegalArgumentException("head " + h + ": expected a head index ≥ 0");
      }
    }
    return new HeadSet(IntStream.of(heads).sorted().distinct().toArray());
  }

  /**
   * Parses the text form: {@code all}, or head indices separated by commas ({@code 0,3,5}; spaces
   * allowed, repeats dropped).
   */
  public static HeadSet parse(String text) {
    String s = text == null ? "" : text.strip();
    if (s.equals("all")) {
      return ALL;
    }
    try {
      return of(
          Arrays.stream(s.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("heads '" + text + "': expected all or a list like 0,3,5");
    }
  }

  /** Whether this is every head of the layer. */
  public boolean isAll() {
    return heads == null;
  }

  /**
   * The head indices for a model with these settings, ascending; an error names a head the model
   * does not have.
   */
  public int[] resolve(ModelConfig config) {
    return resolve(config.nHeads());
  }

  /**
   * Head indices for {@code nHeads} query heads, ascending, checked like {@link
   * #resolve(ModelConfig)}.
   */
  public int[] resolve(int nHeads) {
    if (heads == null) {
      return IntStream.range(0, nHeads).toArray();
    }
    for (int h : heads) {
      if (h >= nHeads) {
        throw new IllegalArgumentException(
            "head "
                + h
                + " is not in 0.."
                + (nHeads - 1)
                + ": the layer has "
                + nHeads
                + " query heads");
      }
    }
    return heads.clone();
  }

  /** {@code all}, or the heads as {@link #parse} reads them ({@code 0,3,5}). */
  @Override
  public String toString() {
    if (heads == null) {
      return "all";
    }
    StringBuilder sb = new StringBuilder();
    for (int h : heads) {
      sb.append(sb.length() == 0 ? "" : ",").append(h);
    }
    return sb.toString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof HeadSet s && Arrays.equals(heads, s.heads);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(heads);
  }
}
