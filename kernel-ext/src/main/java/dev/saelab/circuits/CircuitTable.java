package dev.saelab.circuits;

import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.RankBy;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * One head's top entries of one circuit, best first.
 *
 * @param kind QK or OV
 * @param layer layer index
 * @param head query head
 * @param rankBy how the entries were ranked
 * @param scale factor already applied to the values (1 for raw)
 * @param variant {@code exact} or {@code proxy} for the QK table of a model with q/k norms, else ""
 * @param edges the entries: {@code row} is the query (QK) or value (OV) feature, {@code col} the
 *     key or output
 */
public record CircuitTable(
    CircuitKind kind,
    int layer,
    int head,
    RankBy rankBy,
    double scale,
    List<FeatureEdge> edges,
    String variant) {
  /**
   * How the QK table of a model with q/k norms passed them: "" for other tables, else {@code exact}
   * or {@code proxy} ({@link QkNorm}).
   */
  public String qkNormNote() {
    return variant.isEmpty() ? "" : "QK through q_norm/k_norm: " + QkNorm.parse(variant).label();
  }

  /** A table of the plain product (no variant to name). */
  public CircuitTable(
      CircuitKind kind, int layer, int head, RankBy rankBy, double scale, List<FeatureEdge> edges) {
    this(kind, layer, head, rankBy, scale, edges, "");
  }

  /** "L13H4". */
  public String headName() {
    return "L" + layer + "H" + head;
  }

  /**
   * A copy keeping the entries that pass {@code keep}, order unchanged (e.g. Bostock's "Distinct"
   * filters).
   */
  public CircuitTable filter(Predicate<FeatureEdge> keep) {
    List<FeatureEdge> out = new ArrayList<>();
    for (FeatureEdge e : edges) {
      if (keep.test(e)) {
        out.add(e);
      }
    }
    return new CircuitTable(kind, layer, head, rankBy, scale, out, variant);
  }

  /** Bostock's "Distinct": self pairs (query == key) removed from this list. */
  public CircuitTable distinct() {
    return filter(e -> e.row() != e.col());
  }

  /** Bostock's "Distinct Positive": distinct and value &gt; 0. */
  public CircuitTable distinctPositive() {
    return filter(e -> e.row() != e.col() && e.value() > 0);
  }
}
