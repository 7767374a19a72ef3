package dev.saelab.atlas;

import java.util.Arrays;

/**
 * One bounded heap of k partners per feature, in flat arrays: larger key first, then smaller
 * partner index (the engine's order restricted to one row or one column). The root of each heap is
 * its worst entry.
 */
final class PartnerHeaps {
  private final int k;
  private final float[] keys;
  private final float[] values;
  private final int[] partners;
  private final int[] sizes;

  PartnerHeaps(int nFeatures, int k) {
    this.k = k;
    long n = (long) nFeatures * k;
    if (n > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException(
          nFeatures + " features × " + k + " partners: too many for one work unit");
    }
    keys = new float[(int) n];
    values = new float[(int) n];
    partners = new int[(int) n];
    sizes = new int[nFeatures];
  }

  /** Java heap of {@code nFeatures} heaps of k partners: three 4-byte arrays, and the sizes. */
  static long bytes(long nFeatures, int k) {
    return nFeatures * (12L * k + 4);
  }

  /** The key feature f's partners must reach to enter: its k-th key, or −∞ while not full. */
  float threshold(int f) {
    return sizes[f] < k ? Float.NEGATIVE_INFINITY : keys[f * k];
  }

  private boolean better(float key, int partner, int slot) {
    if (key != keys[slot]) {
      return key > keys[slot];
    }
    return partner < partners[slot];
  }

  /** Offers a partner of feature f; keeps it if among f's k best. */
  void offer(int f, float key, float value, int partner) {
    int base = f * k;
    int size = sizes[f];
    if (size < k) {
      int i = size;
      sizes[f] = size + 1;
      set(base + i, key, value, partner);
      while (i > 0) {
        int p = (i - 1) / 2;
        if (better(keys[base + p], partners[base + p], base + i)) {
          swap(base + i, base + p);
          i = p;
        } else {
          break;
        }
      }
    } else if (better(key, partner, base)) {
      set(base, key, value, partner);
      int i = 0;
      while (true) {
        int l = 2 * i + 1;
        int r = l + 1;
        int worst = i;
        if (l < k && better(keys[base + worst], partners[base + worst], base + l)) {
          worst = l;
        }
        if (r < k && better(keys[base + worst], partners[base + worst], base + r)) {
          worst = r;
        }
        if (worst == i) {
          break;
        }
        swap(base + i, base + worst);
        i = worst;
      }
    }
  }

  private void set(int s, float key, float value, int partner) {
    keys[s] = key;
    values[s] = value;
    partners[s] = partner;
  }

  private void swap(int a, int b) {
    float t = keys[a];
    keys[a] = keys[b];
    keys[b] = t;
    t = values[a];
    values[a] = values[b];
    values[b] = t;
    int p = partners[a];
    partners[a] = partners[b];
    partners[b] = p;
  }

  /**
   * The partners of every feature with at least one, best first; feature f is reported as {@code f
   * + offset}.
   */
  UnitResult.Partners sorted(int offset) {
    int nf = 0;
    int total = 0;
    for (int s : sizes) {
      if (s > 0) {
        nf++;
        total += s;
      }
    }
    int[] feats = new int[nf];
    int[] offs = new int[nf + 1];
    int[] ps = new int[total];
    float[] vs = new float[total];
    int fi = 0;
    int at = 0;
    Integer[] idx = new Integer[k];
    for (int f = 0; f < sizes.length; f++) {
      int size = sizes[f];
      if (size == 0) {
        continue;
      }
      int base = f * k;
      for (int i = 0; i < size; i++) {
        idx[i] = base + i;
      }
      Arrays.sort(
          idx,
          0,
          size,
          (a, b) -> {
            int c = Float.compare(keys[b], keys[a]);
            return c != 0 ? c : Integer.compare(partners[a], partners[b]);
          });
      feats[fi] = f + offset;
      offs[fi] = at;
      for (int i = 0; i < size; i++) {
        ps[at] = partners[idx[i]];
        vs[at] = values[idx[i]];
        at++;
      }
      fi++;
    }
    offs[nf] = at;
    return new UnitResult.Partners(feats, offs, ps, vs);
  }
}
