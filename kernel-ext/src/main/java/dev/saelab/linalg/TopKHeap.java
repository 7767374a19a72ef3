package dev.saelab.linalg;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A bounded heap keeping the k best (key, row, col) entries in the deterministic order: larger key
 * first, then smaller row, then smaller column. Primitive arrays; the root is the worst entry kept.
 */
final class TopKHeap {
  private final int k;
  private final float[] keys;
  private final float[] values;
  private final int[] rows;
  private final int[] cols;
  private int size;

  TopKHeap(int k) {
    this.k = k;
    keys = new float[k];
    values = new float[k];
    rows = new int[k];
    cols = new int[k];
  }

  boolean full() {
    return size == k;
  }

  /**
   * The worst kept key, or -infinity while not full. Entries with a smaller key can never enter.
   */
  float threshold() {
    return size < k ? Float.NEGATIVE_INFINITY : keys[0];
  }

  /** Whether (key,row,col) ranks before slot i's entry. */
  private boolean better(float key, int row, int col, int i) {
    if (key != keys[i]) {
      return key > keys[i];
    }
    if (row != rows[i]) {
      return row < rows[i];
    }
    return col < cols[i];
  }

  /** Offers an entry; keeps it if it is among the k best so far. */
  void offer(float key, float value, int row, int col) {
    if (k == 0) {
      return;
    }
    if (size < k) {
      int i = size++;
      set(i, key, value, row, col);
      siftUp(i);
    } else if (better(key, row, col, 0)) {
      set(0, key, value, row, col);
      siftDown(0);
    }
  }

  private void set(int i, float key, float value, int row, int col) {
    keys[i] = key;
    values[i] = value;
    rows[i] = row;
    cols[i] = col;
  }

  private void swap(int a, int b) {
    float tk = keys[a];
    keys[a] = keys[b];
    keys[b] = tk;
    float tv = values[a];
    values[a] = values[b];
    values[b] = tv;
    int tr = rows[a];
    rows[a] = rows[b];
    rows[b] = tr;
    int tc = cols[a];
    cols[a] = cols[b];
    cols[b] = tc;
  }

  /** Min-heap on "better": the parent is worse than its children. */
  private void siftUp(int i) {
    while (i > 0) {
      int p = (i - 1) / 2;
      if (better(keys[p], rows[p], cols[p], i)) {
        swap(i, p);
        i = p;
      } else {
        return;
      }
    }
  }

  private void siftDown(int i) {
    while (true) {
      int l = 2 * i + 1;
      int r = l + 1;
      int worst = i;
      if (l < size && better(keys[worst], rows[worst], cols[worst], l)) {
        worst = l;
      }
      if (r < size && better(keys[worst], rows[worst], cols[worst], r)) {
        worst = r;
      }
      if (worst == i) {
        return;
      }
      swap(i, worst);
      i = worst;
    }
  }

  /** The kept entries, best first. */
  List<FeatureEdge> sorted() {
    List<Integer> idx = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      idx.add(i);
    }
    idx.sort(
        Comparator.<Integer>comparingDouble(i -> -keys[i])
            .thenComparingInt(i -> rows[i])
            .thenComparingInt(i -> cols[i]));
    List<FeatureEdge> out = new ArrayList<>(size);
    for (int i : idx) {
      out.add(new FeatureEdge(rows[i], cols[i], values[i]));
    }
    return out;
  }
}
