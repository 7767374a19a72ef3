package dev.saelab.circuits;

import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.RankBy;
import dev.saelab.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Drill-down on one feature: its strongest partners per head and role, and its projection norms.
 */
final class DrillDown {
  private DrillDown() {}

  /**
   * A feature's strongest partners in one head: as a query, the keys it attends to most; as a key,
   * the queries attending to it; as a value, the output features it writes; as an output, the
   * values writing it. Edges keep the circuit's orientation ({@code row} = query/value feature,
   * {@code col} = key/output feature).
   */
  static List<FeatureEdge> partners(
      HeadProjections proj,
      int feature,
      FeatureRole role,
      int head,
      int k,
      RankBy rankBy,
      boolean cosine) {
    if (k < 1) {
      throw new IllegalArgumentException("top-k " + k + ": expected a positive number of partners");
    }
    INDArray[] s = proj.rawSides(role.kind(), head);
    boolean rowSide = role.isRow();
    INDArray own = rowSide ? s[0] : s[1];
    INDArray others = rowSide ? s[1] : s[0];
    if (feature < 0 || feature >= own.rows()) {
      throw new IllegalArgumentException(
          "feature "
              + feature
              + " out of range 0.."
              + (own.rows() - 1)
              + " for the "
              + role.id()
              + " side");
    }
    double[] scores;
    try (INDArray x = own.getRow(feature).dup().reshape(own.columns(), 1);
        INDArray m = others.mmul(x)) {
      scores = m.toDoubleVector();
      if (cosine) {
        double xn = x.norm2Number().doubleValue();
        double[] on = others.norm2(1).toDoubleVector();
        for (int i = 0; i < scores.length; i++) {
          double d = xn * on[i];
          scores[i] = d > 0 ? scores[i] / d : 0;
        }
      }
    }
    Integer[] idx = new Integer[scores.length];
    for (int i = 0; i < idx.length; i++) {
      idx[i] = i;
    }
    final double[] sf = scores;
    java.util.Arrays.sort(
        idx,
        java.util.Comparator.comparingDouble((Integer i) -> -rankBy.key(sf[i]))
            .thenComparingInt(i -> i));
    List<FeatureEdge> out = new ArrayList<>();
    for (int i = 0; i < Math.min(k, idx.length); i++) {
      int o = idx[i];
      float val = (float) scores[o];
      out.add(rowSide ? new FeatureEdge(feature, o, val) : new FeatureEdge(o, feature, val));
    }
    return out;
  }

  /**
   * A feature's projection norms per head: rows {@code q} (‖q_i^h‖), {@code k} (‖k_i^g‖, key side),
   * {@code v} (‖v_i^g‖) for input-SAE feature i, and {@code p} (‖p_i^h‖) for output-SAE feature i
   * (NaN when there is no output SAE or it is narrower); {@code out[row][head]}.
   */
  static double[][] norms(HeadProjections proj, int feature) {
    ModelConfig c = proj.attention().config();
    INDArray q = proj.queries();
    INDArray k = proj.keys();
    INDArray v = proj.values();
    INDArray p = proj.outputs();
    int nh = c.nHeads();
    int dh = c.dHead();
    if (feature < 0 || feature >= q.rows()) {
      throw new IllegalArgumentException(
          "feature " + feature + " out of range 0.." + (q.rows() - 1));
    }
    double[][] out = new double[4][nh];
    for (int h = 0; h < nh; h++) {
      int g = c.kvHead(h);
      out[0][h] = HeadProjections.headView(q, h, dh).getRow(feature).norm2Number().doubleValue();
      out[1][h] =
          feature < k.rows()
              ? HeadProjections.headView(k, g, dh).getRow(feature).norm2Number().doubleValue()
              : Double.NaN;
      out[2][h] = HeadProjections.headView(v, g, dh).getRow(feature).norm2Number().doubleValue();
      out[3][h] =
          p != null && feature < p.rows()
              ? HeadProjections.headView(p, h, dh).getRow(feature).norm2Number().doubleValue()
              : Double.NaN;
    }
    return out;
  }
}
