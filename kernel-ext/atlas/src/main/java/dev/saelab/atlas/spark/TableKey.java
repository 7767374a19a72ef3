package dev.saelab.atlas.spark;

import java.io.Serializable;
import java.util.Locale;

/**
 * One table of an atlas, and one partition of its output: a layer, a head and a circuit ({@code qk}
 * or {@code ov}), written under {@code layer=L/head=H/circuit=c/}.
 *
 * @param layer the layer
 * @param head the head (query head)
 * @param circuit the circuit's id, {@code qk} or {@code ov}
 */
public record TableKey(int layer, int head, String circuit)
    implements Serializable, Comparable<TableKey> {

  /** The partition's folder below the output folder, Hive style. */
  public String partitionPath() {
    return "layer=" + layer + "/head=" + head + "/circuit=" + circuit;
  }

  @Override
  public int compareTo(TableKey o) {
    int c = Integer.compare(layer, o.layer);
    if (c == 0) {
      c = circuit.compareTo(o.circuit);
    }
    return c != 0 ? c : Integer.compare(head, o.head);
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT, "L%dH%d %s", layer, head, circuit);
  }
}
