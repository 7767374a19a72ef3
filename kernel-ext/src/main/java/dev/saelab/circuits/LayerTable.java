package dev.saelab.circuits;

import dev.saelab.linalg.RankBy;
import java.util.List;

/**
 * A circuit summed over the heads of a layer: the pairs whose score is large in total, each with
 * its per-head breakdown. Attention algorithms spread over several heads (parameter-decomposition
 * work, kernel-ext/docs/math.md §10) show up here as pairs that are strong in total but weak in
 * every single head.
 *
 * @param kind QK or OV
 * @param layer the layer
 * @param rankBy ranking key
 * @param scale factor already applied to the values
 * @param edges the pairs, best first
 * @param headThresholds per head, the key (by {@code rankBy}) of the last entry of that head's own
 *     top-k table with the same k and variant; a pair whose per-head values all rank below it is in
 *     no head's table
 */
public record LayerTable(
    CircuitKind kind,
    int layer,
    RankBy rankBy,
    double scale,
    List<Edge> edges,
    double[] headThresholds) {

  /**
   * One pair of the summed table.
   *
   * @param row query (QK) or value (OV) feature
   * @param col key (QK) or output (OV) feature
   * @param value the summed value ({@code Σ_h perHead[h]})
   * @param perHead each head's part of the sum
   * @param headValues each head's own table value for this pair (equal to perHead except in the
   *     cosine variant, where each head normalises by its own norms)
   */
  public record Edge(int row, int col, double value, double[] perHead, double[] headValues) {
    /**
     * How many heads (largest |part| first) carry {@code share} (e.g. 0.8) of {@code Σ_h |part_h|}.
     */
    public int headSpread(double share) {
      return Shares.countCarrying(perHead, share);
    }

    /**
     * {@code 17→42 9.2789 (per head [0.1, 9.1, ...])}: the record's default prints arrays as {@code
     * [D@…}.
     */
    @Override
    public String toString() {
      StringBuilder sb =
          new StringBuilder()
              .append(row)
              .append('→')
              .append(col)
              .append(' ')
              .append(String.format(java.util.Locale.ROOT, "%.5g", value))
              .append(" (per head [");
      for (int h = 0; h < perHead.length; h++) {
        sb.append(h == 0 ? "" : ", ")
            .append(String.format(java.util.Locale.ROOT, "%.4g", perHead[h]));
      }
      return sb.append("])").toString();
    }
  }

  /** The default share for {@link Edge#headSpread}: 80 %. */
  public static final double SPREAD_SHARE = 0.8;

  /**
   * Whether the pair would appear in none of the per-head tables (every head value ranks below that
   * head's last).
   */
  public boolean weakInEveryHead(Edge e) {
    for (int h = 0; h < headThresholds.length; h++) {
      if (rankBy.key((float) e.headValues()[h]) >= headThresholds[h]) {
        return false;
      }
    }
    return true;
  }

  /** The pairs strong in total but weak in every single head. */
  public List<Edge> distributed() {
    return edges.stream().filter(this::weakInEveryHead).toList();
  }

  /** Number of heads. */
  public int nHeads() {
    return headThresholds.length;
  }

  /** One line: what was summed and how many pairs (the record's default would print every edge). */
  @Override
  public String toString() {
    return "LayerTable "
        + kind.id().toUpperCase(java.util.Locale.ROOT)
        + " L"
        + layer
        + " summed over "
        + nHeads()
        + " heads: "
        + edges.size()
        + " pairs ranked by "
        + rankBy
        + ", "
        + distributed().size()
        + " weak in every head";
  }
}
