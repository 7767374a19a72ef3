package dev.saelab.circuits;

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
}
