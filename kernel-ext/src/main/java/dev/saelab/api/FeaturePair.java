package dev.saelab.api;

/**
 * A query feature and a key feature, as a pair of directions whose QK score a positional profile
 * follows ({@link CircuitQuery#ropeProfile(FeaturePair...)}).
 *
 * @param query index of the query-side feature (input SAE)
 * @param key index of the key-side feature (key SAE, else the input SAE)
 */
public record FeaturePair(int query, int key) {
  /**
   * Checks that both indices are ≥ 0 (the upper bound depends on the SAE and is checked when
   * computing).
   */
  public FeaturePair {
    if (query < 0 || key < 0) {
      throw new IllegalArgumentException(
          "feature pair " + query + ":" + key + ": expected feature indices ≥ 0");
    }
  }

  /** {@code query:key}, e.g. {@code 17:42}. */
  @Override
  public String toString() {
    return query + ":" + key;
  }
}
