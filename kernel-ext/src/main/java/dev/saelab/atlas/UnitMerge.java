package dev.saelab.atlas;

import dev.saelab.linalg.RankBy;
import java.util.Arrays;

/**
 * Merges the results of units of one partition (one layer, head and circuit) into the exact top-k:
 * the k best of the union in the engine's order (larger key, then smaller row, then smaller column;
 * math.md §13). Every entry of the whole product's top-k is in its row block's top-k, so merging
 * the blocks' tables gives the single-machine table. Row partners are disjoint across blocks (each
 * row is in one); column partners are merged per column in the same way (larger key, then smaller
 * row). The merge is associative and commutative, so a cluster engine may tree-reduce it.
 */
public final class UnitMerge {
  private UnitMerge() {}

  /** The merge of two results of one partition. */
  public static UnitResult merge(UnitResult a, UnitResult b) {
    WorkUnit ua = a.unit();
    WorkUnit ub = b.unit();
    if (!ua.partitionKey().equals(ub.partitionKey())) {
      throw new IllegalArgumentException(
          "cannot merge " + ua.id() + " with " + ub.id() + ": different partitions");
    }
    if (ua.part() != WorkUnit.Part.TABLE) {
      // a summed circuit or spectra is one unit: the same unit computed twice is the same result
      return ua.id().compareTo(ub.id()) <= 0 ? a : b;
    }
    if (a.topK() != b.topK() || a.rankBy() != b.rankBy() || a.perFeature() != b.perFeature()) {
      throw new IllegalArgumentException(
          "cannot merge " + ua.id() + " with " + ub.id() + ": computed with different options");
    }
    WorkUnit first = ua.rowStart() <= ub.rowStart() ? ua : ub;
    WorkUnit unit =
        new WorkUnit(
            first.part(),
            first.layer(),
            first.head(),
            first.circuit(),
            Math.min(ua.rowStart(), ub.rowStart()),
            Math.max(ua.rowEnd(), ub.rowEnd()));
    RankBy rb = a.rankBy();
    int k = a.topK();
    int na = a.size();
    int nb = b.size();
    int n = Math.min(k, na + nb);
    int[] rows = new int[n];
    int[] cols = new int[n];
    float[] vals = new float[n];
    int i = 0;
    int j = 0;
    int o = 0;
    for (; o < n && (i < na || j < nb); o++) {
      boolean takeA;
      if (i >= na) {
        takeA = false;
      } else if (j >= nb) {
        takeA = true;
      } else {
        takeA =
            compare(
                    rb.key(a.values()[i]),
                    a.rows()[i],
                    a.cols()[i],
                    rb.key(b.values()[j]),
                    b.rows()[j],
                    b.cols()[j])
                <= 0;
      }
      if (takeA && j < nb && i < na && a.rows()[i] == b.rows()[j] && a.cols()[i] == b.cols()[j]) {
        j++; // the same entry in both (a unit counted twice): kept once
      }
      if (takeA) {
        rows[o] = a.rows()[i];
        cols[o] = a.cols()[i];
        vals[o] = a.values()[i];
        i++;
      } else {
        rows[o] = b.rows()[j];
        cols[o] = b.cols()[j];
        vals[o] = b.values()[j];
        j++;
      }
    }
    if (o < n) {
      rows = Arrays.copyOf(rows, o);
      cols = Arrays.copyOf(cols, o);
      vals = Arrays.copyOf(vals, o);
    }
    UnitResult.Partners rp = null;
    UnitResult.Partners cp = null;
    if (a.perFeature() > 0) {
      rp = mergePartners(a.rowPartners(), b.rowPartners(), rb, a.perFeature());
      cp = mergePartners(a.colPartners(), b.colPartners(), rb, a.perFeature());
    }
    return new UnitResult(
        unit,
        rb,
        k,
        a.perFeature(),
        a.scale(),
        a.variant(),
        a.rowsCovered() + b.rowsCovered(),
        rows,
        cols,
        vals,
        rp,
        cp,
        null,
        null);
  }

  /**
   * The engine's order of two entries: negative when (ka, ra, ca) comes first (larger key, then
   * smaller row, then smaller column; keys compared as {@code TopKHeap} sorts them).
   */
  static int compare(float ka, int ra, int ca, float kb, int rb, int cb) {
    int c = Float.compare(kb, ka);
    if (c != 0) {
      return c;
    }
    c = Integer.compare(ra, rb);
    return c != 0 ? c : Integer.compare(ca, cb);
  }

  /** Per feature, the k best partners of both lists (larger key, then smaller partner). */
  static UnitResult.Partners mergePartners(
      UnitResult.Partners a, UnitResult.Partners b, RankBy rb, int k) {
    if (a == null || b == null) {
      return a == null ? b : a;
    }
    int na = a.size();
    int nb = b.size();
    int[] feats = new int[na + nb];
    int[] offs = new int[na + nb + 1];
    int[] ps = new int[a.partners().length + b.partners().length];
    float[] vs = new float[ps.length];
    int fa = 0;
    int fb = 0;
    int nf = 0;
    int at = 0;
    while (fa < na || fb < nb) {
      int f =
          fa >= na
              ? b.features()[fb]
              : fb >= nb ? a.features()[fa] : Math.min(a.features()[fa], b.features()[fb]);
      int i = 0;
      int iEnd = 0;
      int j = 0;
      int jEnd = 0;
      if (fa < na && a.features()[fa] == f) {
        i = a.offsets()[fa];
        iEnd = a.offsets()[fa + 1];
        fa++;
      }
      if (fb < nb && b.features()[fb] == f) {
        j = b.offsets()[fb];
        jEnd = b.offsets()[fb + 1];
        fb++;
      }
      feats[nf] = f;
      offs[nf] = at;
      int taken = 0;
      while (taken < k && (i < iEnd || j < jEnd)) {
        boolean takeA;
        if (i >= iEnd) {
          takeA = false;
        } else if (j >= jEnd) {
          takeA = true;
        } else {
          takeA =
              compare(
                      rb.key(a.values()[i]),
                      a.partners()[i],
                      0,
                      rb.key(b.values()[j]),
                      b.partners()[j],
                      0)
                  <= 0;
        }
        if (takeA) {
          ps[at] = a.partners()[i];
          vs[at] = a.values()[i];
          i++;
        } else {
          ps[at] = b.partners()[j];
          vs[at] = b.values()[j];
          j++;
        }
        at++;
        taken++;
      }
      nf++;
    }
    offs[nf] = at;
    return new UnitResult.Partners(
        Arrays.copyOf(feats, nf),
        Arrays.copyOf(offs, nf + 1),
        Arrays.copyOf(ps, at),
        Arrays.copyOf(vs, at));
  }
}
