package dev.saelab.atlas;

import dev.saelab.linalg.RankBy;
import java.io.Serializable;

/**
 * What one work unit (or a merge of units of one partition) computed, in plain arrays: the top-k
 * edges of its row block, best first, with <em>raw</em> values (before the query scale, so merging
 * ranks them as the engine did), and each feature's partners. A summed-circuit or spectra unit
 * carries its {@link Sum} or {@link #sigma} instead.
 *
 * @param unit the unit; for a merge, the partition's first unit with the merged row range
 * @param rankBy the ranking of the edges and partners
 * @param topK the table's k
 * @param perFeature partners kept per feature (0: none)
 * @param scale factor the written values are multiplied by (the query scale, or 1)
 * @param variant how QK passed the q/k norms ({@code exact}, {@code proxy}), or empty
 * @param rowsCovered rows of the product this result covers (all of them once merged)
 * @param rows edge row features (query or value feature), best first
 * @param cols edge column features (key or output feature)
 * @param values edge values, raw
 * @param rowPartners each row feature's partners (its top {@code perFeature} in its row), or null
 * @param colPartners each column feature's partners within the covered rows, or null
 * @param sum the summed circuit (part SUM), or null
 * @param sigma each head's singular values, {@code sigma[head]} (part SPECTRA), or null
 */
public record UnitResult(
    WorkUnit unit,
    RankBy rankBy,
    int topK,
    int perFeature,
    double scale,
    String variant,
    long rowsCovered,
    int[] rows,
    int[] cols,
    float[] values,
    Partners rowPartners,
    Partners colPartners,
    Sum sum,
    double[][] sigma)
    implements Serializable {

  private static final long serialVersionUID = 1L;

  /** Edges in the table. */
  public int size() {
    return rows.length;
  }

  /**
   * Partners per feature: feature {@code features[f]}'s partners are {@code partners[offsets[f] ..
   * offsets[f+1])}, best first (by key, then smaller partner index), with raw values.
   *
   * @param features the features, ascending
   * @param offsets start of each feature's partners, and the end
   * @param partners partner features
   * @param values raw values of the pairs
   */
  public record Partners(int[] features, int[] offsets, int[] partners, float[] values)
      implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Features with partners. */
    public int size() {
      return features.length;
    }
  }

  /**
   * A layer's summed circuit, as {@code saelab tables --heads sum --breakdown} writes it.
   *
   * @param rows row features, best first
   * @param cols column features
   * @param values summed values, as written (after the scale)
   * @param headSpread heads carrying 80 % of each pair's total
   * @param weakInEveryHead whether the pair is in no head's own top k
   * @param perHead each head's part, {@code perHead[edge][head]}, as written
   */
  public record Sum(
      int[] rows,
      int[] cols,
      float[] values,
      int[] headSpread,
      boolean[] weakInEveryHead,
      float[][] perHead)
      implements Serializable {
    private static final long serialVersionUID = 1L;
  }
}
