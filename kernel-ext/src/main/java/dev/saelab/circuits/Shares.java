package dev.saelab.circuits;

import java.util.Arrays;

/** Concentration of a sum: how many of its largest terms carry a given share of it. */
final class Shares {
  private Shares() {}

  /**
   * The smallest number of terms, largest |term| first, whose |terms| reach {@code share} (e.g.
   * 0.8) of {@code Σ|term|} (all of them when the sum is zero).
   */
  static int countCarrying(double[] terms, double share) {
    double[] a = Arrays.stream(terms).map(Math::abs).sorted().toArray();
    double all = Arrays.stream(a).sum();
    double acc = 0;
    for (int i = a.length - 1; i >= 0; i--) {
      acc += a[i];
      if (acc >= share * all - 1e-12 * all) {
        return a.length - i;
      }
    }
    return a.length;
  }
}
