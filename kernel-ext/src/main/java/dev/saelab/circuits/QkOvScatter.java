package dev.saelab.circuits;

import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * J Bostock's "QK-OV correlation" for one head: per input-SAE feature j, how much the average query
 * attends to it as a key ({@code meanQk[j]}) against how strongly it writes as a value on average
 * ({@code meanAbsOv[j]}).
 *
 * @param layer the layer
 * @param head the query head
 * @param meanQk per feature, the mean of its QK column (mean over query features)
 * @param meanAbsOv per feature, the mean |OV| of its row (mean over output features)
 * @param pearson Pearson correlation of the two
 */
public record QkOvScatter(
    int layer, int head, double[] meanQk, double[] meanAbsOv, double pearson) {
  /** "L13H4". */
  public String headName() {
    return "L" + layer + "H" + head;
  }

  /** Pearson's r (NaN when either side is constant). */
  public static double pearson(double[] x, double[] y) {
    int n = x.length;
    double mx = 0;
    double my = 0;
    for (int i = 0; i < n; i++) {
      mx += x[i];
      my += y[i];
    }
    mx /= n;
    my /= n;
    double sxy = 0;
    double sxx = 0;
    double syy = 0;
    for (int i = 0; i < n; i++) {
      sxy += (x[i] - mx) * (y[i] - my);
      sxx += (x[i] - mx) * (x[i] - mx);
      syy += (y[i] - my) * (y[i] - my);
    }
    return sxx == 0 || syy == 0 ? Double.NaN : sxy / Math.sqrt(sxx * syy);
  }

  /** One line (the record's default would print the arrays as {@code [D@…}). */
  @Override
  public String toString() {
    return String.format(
        java.util.Locale.ROOT,
        "QkOvScatter %s: %d features, Pearson r = %.4f",
        headName(),
        meanQk.length,
        pearson);
  }

  /**
   * The post's QK–OV scatter for one head: per input-SAE feature j, {@code x_j} = mean over query
   * features of {@code QK[i, j]} (j as key) and {@code y_j} = mean over output features of {@code
   * |OV[j, o]|} (j as value), and their Pearson correlation. Needs the same SAE on the key and
   * value side and an output SAE; the |OV| means run through the full value × output product in row
   * blocks (never held whole).
   */
  static QkOvScatter of(HeadProjections proj, int head) {
    AttentionWeights attn = proj.attention();
    ModelConfig c = attn.config();
    INDArray q = proj.queries();
    INDArray k = proj.keys();
    INDArray v = proj.values();
    INDArray p = proj.outputs();
    int dh = c.dHead();
    int g = c.kvHead(head);
    if (p == null) {
      throw new IllegalArgumentException(
          "the QK-OV scatter needs an output SAE (the SAE on the layer's output" + " stream)");
    }
    if (!proj.sameKeySae()) {
      throw new IllegalArgumentException(
          "the QK-OV scatter pairs key and value features: use one SAE for both");
    }
    INDArray qh = HeadProjections.headView(q, head, dh);
    INDArray kg = HeadProjections.headView(k, g, dh);
    INDArray vg = HeadProjections.headView(v, g, dh);
    INDArray ph = HeadProjections.headView(p, head, dh);
    double[] x;
    try (INDArray meanQ = qh.mean(0).reshape(dh, 1);
        INDArray xs = kg.mmul(meanQ)) {
      x = xs.toDoubleVector();
    }
    int n = vg.rows();
    double[] y = new double[n];
    try (INDArray pt = ph.transpose().dup('c')) {
      for (int r0 = 0; r0 < n; r0 += 2048) {
        int r1 = Math.min(n, r0 + 2048);
        try (INDArray blk = vg.get(NDArrayIndex.interval(r0, r1), NDArrayIndex.all()).mmul(pt);
            INDArray a = org.nd4j.linalg.ops.transforms.Transforms.abs(blk, false);
            INDArray m = a.mean(1)) {
          System.arraycopy(m.toDoubleVector(), 0, y, r0, r1 - r0);
        }
        if (Thread.currentThread().isInterrupted()) {
          throw new java.util.concurrent.CancellationException("QK-OV scatter interrupted");
        }
      }
    }
    return new QkOvScatter(attn.layer(), head, x, y, QkOvScatter.pearson(x, y));
  }
}
