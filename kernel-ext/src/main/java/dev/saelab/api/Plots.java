package dev.saelab.api;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitTable;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.linalg.FeatureEdge;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Notebook-sized XChart plots: generic heat map, line and scatter, and the ones SAE Lab draws from
 * circuits.
 */
public final class Plots {
  /** Default width in pixels. */
  public static final int WIDTH = 720;

  /** Default height in pixels. */
  public static final int HEIGHT = 420;

  private Plots() {}

  /**
   * A heat map of {@code z[row][col]}.
   *
   * @param xTicks labels of the columns (length {@code z[0].length})
   * @param yTicks labels of the rows (length {@code z.length})
   */
  public static Plot heatmap(
      String title,
      String xLabel,
      String yLabel,
      double[][] z,
      List<String> xTicks,
      List<String> yTicks) {
    if (z.length == 0 || z[0].length == 0) {
      throw new IllegalArgumentException("heat map '" + title + "': no data");
    }
    if (xTicks.size() != z[0].length || yTicks.size() != z.length) {
      throw new IllegalArgumentException(
          "heat map '"
              + title
              + "': "
              + z.length
              + "x"
              + z[0].length
              + " values but "
              + yTicks.size()
              + " row and "
              + xTicks.size()
              + " column labels");
    }
    HeatMapChart c =
        new HeatMapChartBuilder()
            .width(WIDTH)
            .height(HEIGHT)
            .title(title)
            .xAxisTitle(xLabel)
            .yAxisTitle(yLabel)
            .build();
    List<Number[]> cells = new ArrayList<>();
    double max = 0;
    for (int r = 0; r < z.length; r++) {
      for (int col = 0; col < z[r].length; col++) {
        cells.add(new Number[] {col, r, z[r][col]});
        max = Math.max(max, Math.abs(z[r][col]));
      }
    }
    c.getStyler().setShowValue(false);
    c.getStyler().setPlotContentSize(1);
    // the colour bar prints its ends with Double.toString (XChart ignores the decimal pattern
    // there): round them up
    // to 3 significant digits, so it reads "9.28", not "9.278945922851562"
    double lim =
        max == 0
            ? 0
            : new java.math.BigDecimal(max)
                .round(new java.math.MathContext(3, java.math.RoundingMode.UP))
                .doubleValue();
    c.getStyler().setMin(-lim).setMax(lim);
    c.getStyler().setDecimalPattern("#0.###");
    c.getStyler()
        .setRangeColors(
            new java.awt.Color[] {
              new java.awt.Color(178, 24, 43),
              new java.awt.Color(247, 247, 247),
              new java.awt.Color(33, 102, 172)
            });
    c.addSeries(title, xTicks, yTicks, cells);
    return new Plot(c);
  }

  /** Line plot: one series per entry, sharing the x values. */
  public static Plot line(
      String title, String xLabel, String yLabel, double[] x, Map<String, double[]> series) {
    XYChart c =
        new XYChartBuilder()
            .width(WIDTH)
            .height(HEIGHT)
            .title(title)
            .xAxisTitle(xLabel)
            .yAxisTitle(yLabel)
            .build();
    c.getStyler().setMarkerSize(0);
    for (Map.Entry<String, double[]> e : series.entrySet()) {
      c.addSeries(e.getKey(), x, e.getValue());
    }
    return new Plot(c);
  }

  /**
   * Grouped bars: one group per category, one bar per series (NaN values are drawn as 0 and should
   * be named in the title or table).
   */
  public static Plot bars(
      String title,
      String xLabel,
      String yLabel,
      List<String> categories,
      Map<String, double[]> series) {
    org.knowm.xchart.CategoryChart c =
        new org.knowm.xchart.CategoryChartBuilder()
            .width(WIDTH)
            .height(HEIGHT)
            .title(title)
            .xAxisTitle(xLabel)
            .yAxisTitle(yLabel)
            .build();
    c.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
    for (Map.Entry<String, double[]> e : series.entrySet()) {
      List<Double> ys = new java.util.ArrayList<>();
      for (double v : e.getValue()) {
        ys.add(Double.isNaN(v) ? 0.0 : v);
      }
      c.addSeries(e.getKey(), categories, ys);
    }
    return new Plot(c);
  }

  /** Scatter plot of one series. */
  public static Plot scatter(String title, String xLabel, String yLabel, double[] x, double[] y) {
    XYChart c =
        new XYChartBuilder()
            .width(WIDTH)
            .height(HEIGHT)
            .title(title)
            .xAxisTitle(xLabel)
            .yAxisTitle(yLabel)
            .build();
    c.getStyler()
        .setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter)
        .setMarkerSize(4)
        .setLegendVisible(false);
    c.addSeries(title, x, y).setMarker(SeriesMarkers.CIRCLE);
    return new Plot(c);
  }

  /**
   * |value| by rank, one line per head and circuit: how fast each head's strongest connections fall
   * off.
   */
  public static Plot topValues(FeatureTable t) {
    Map<String, double[]> series = new java.util.LinkedHashMap<>();
    int n = 0;
    for (CircuitTable ct : t.circuitTables()) {
      n = Math.max(n, ct.edges().size());
    }
    if (n == 0) {
      throw new IllegalArgumentException("top-values plot: the table is empty");
    }
    for (CircuitTable ct : t.circuitTables()) {
      double[] y = new double[n];
      java.util.Arrays.fill(y, Double.NaN);
      List<FeatureEdge> edges = ct.edges();
      for (int i = 0; i < edges.size(); i++) {
        y[i] = Math.abs(edges.get(i).value());
      }
      series.put(ct.kind().id() + " " + ct.headName(), y);
    }
    double[] x = new double[n];
    for (int i = 0; i < n; i++) {
      x[i] = i + 1;
    }
    return line("strongest connections by rank", "rank", "|value|", x, series);
  }

  /**
   * A block of one head's circuit as a heat map: rows {@code rows} of the query (QK) or value (OV)
   * side against columns {@code cols} of the key or output side.
   */
  public static Plot circuitBlock(
      FeatureCircuits fc, CircuitKind kind, int head, int[] rows, int[] cols) {
    double[][] z = fc.block(kind, head, rows, cols);
    List<String> xt = new ArrayList<>();
    for (int c : cols) {
      xt.add(Integer.toString(c));
    }
    List<String> yt = new ArrayList<>();
    for (int r : rows) {
      yt.add(Integer.toString(r));
    }
    String h = "L" + fc.layer() + "H" + head;
    return heatmap(
        kind.id().toUpperCase(java.util.Locale.ROOT) + " " + h,
        kind.colColumn().replace('_', ' '),
        kind.rowColumn().replace('_', ' '),
        z,
        xt,
        yt);
  }

  /**
   * Per feature: the norm of its query projection against the norm of its key projection in one
   * head.
   */
  public static Plot queryKeyNorms(FeatureCircuits fc, int head) {
    int dh = fc.config().dHead();
    INDArray q = FeatureCircuits.headView(fc.queries(), head, dh);
    INDArray k = FeatureCircuits.headView(fc.keys(), fc.config().kvHead(head), dh);
    if (q.rows() != k.rows()) {
      throw new IllegalArgumentException("query/key norm plot needs the same SAE on both sides");
    }
    double[] x = q.norm2(1).toDoubleVector();
    double[] y = k.norm2(1).toDoubleVector();
    return scatter(
        "L" + fc.layer() + "H" + head + ": per feature, |query| vs |key|", "‖q_i‖", "‖k_i‖", x, y);
  }

  /** Writes a plot as PNG or SVG, chosen by the file's extension. */
  public static void save(Plot plot, java.nio.file.Path file) throws java.io.IOException {
    String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
    java.nio.file.Path parent = file.toAbsolutePath().getParent();
    java.nio.file.Files.createDirectories(parent);
    if (name.endsWith(".png")) {
      plot.savePng(file);
    } else if (name.endsWith(".svg")) {
      plot.saveSvg(file);
    } else {
      throw new IllegalArgumentException(
          "plot file " + file + ": expected a .png or .svg file name");
    }
  }

  /**
   * Positional profiles: score against distance Δ (log axis; Δ = 0 drawn at 0.5), one line per head
   * and pair; a sliding window ({@code window > 0}) is drawn as a vertical line beyond which
   * nothing is attended.
   */
  public static Plot ropeProfile(
      List<dev.saelab.circuits.PositionalProfile.Point> points, int window) {
    if (points.isEmpty()) {
      throw new IllegalArgumentException("positional profile plot: no points");
    }
    XYChart c =
        new XYChartBuilder()
            .width(WIDTH)
            .height(HEIGHT)
            .title("QK score by query-key distance")
            .xAxisTitle("distance Δ (log scale; Δ = 0 at 0.5)")
            .yAxisTitle("score")
            .build();
    c.getStyler().setXAxisLogarithmic(true).setMarkerSize(3);
    Map<String, List<double[]>> series = new java.util.LinkedHashMap<>();
    double lo = Double.MAX_VALUE;
    double hi = -Double.MAX_VALUE;
    for (var p : points) {
      String name =
          p.headName()
              + (p.queryFeature() < 0 ? "" : " " + p.queryFeature() + ":" + p.keyFeature());
      series
          .computeIfAbsent(name, k -> new ArrayList<>())
          .add(new double[] {Math.max(0.5, p.delta()), p.score()});
      lo = Math.min(lo, p.score());
      hi = Math.max(hi, p.score());
    }
    for (var e : series.entrySet()) {
      double[] x = e.getValue().stream().mapToDouble(v -> v[0]).toArray();
      double[] y = e.getValue().stream().mapToDouble(v -> v[1]).toArray();
      c.addSeries(e.getKey(), x, y);
    }
    if (window > 0) {
      c.addSeries("sliding window " + window, new double[] {window, window}, new double[] {lo, hi})
          .setMarker(SeriesMarkers.NONE)
          .setLineColor(java.awt.Color.GRAY);
    }
    return new Plot(c);
  }

  /** Singular-value spectra, one line per head circuit (σ_k against k). */
  public static Plot spectra(List<dev.saelab.circuits.HeadSvd> svds) {
    if (svds.isEmpty()) {
      throw new IllegalArgumentException("spectrum plot: no heads");
    }
    Map<String, double[]> series = new java.util.LinkedHashMap<>();
    for (var s : svds) {
      series.put(
          s.kind().id() + " " + s.headName() + (s.augmented() ? " (augmented)" : ""), s.sigma());
    }
    int n = svds.get(0).sigma().length;
    double[] x = new double[n];
    for (int i = 0; i < n; i++) {
      x[i] = i;
    }
    Plot p = line("singular values of each head's circuit", "direction k", "σ_k", x, series);
    ((XYChart) p.chart()).getStyler().setYAxisLogarithmic(true);
    return p;
  }

  /** The post's QK–OV scatter for one head, with Pearson's r in the title. */
  public static Plot qkOvScatter(dev.saelab.circuits.QkOvScatter s) {
    return scatter(
        String.format(
            java.util.Locale.ROOT, "%s: QK-OV correlation r = %.3f", s.headName(), s.pearson()),
        "mean QK as key (over queries)",
        "mean |OV| as value (over outputs)",
        s.meanQk(),
        s.meanAbsOv());
  }

  /** A feature's projection norms per head (rows q, k, v, p; columns heads) as a heat map. */
  public static Plot featureNorms(FeatureCircuits fc, int feature) {
    double[][] n = fc.norms(feature);
    List<String> heads = new ArrayList<>();
    for (int h = 0; h < n[0].length; h++) {
      heads.add("H" + h);
    }
    for (double[] row : n) {
      for (int h = 0; h < row.length; h++) {
        row[h] = Double.isNaN(row[h]) ? 0 : row[h];
      }
    }
    return heatmap(
        "L" + fc.layer() + " feature " + feature + ": projection norms per head",
        "head",
        "projection",
        n,
        heads,
        List.of("q", "k", "v", "p (output SAE)"));
  }

  /** The summed circuit's top pairs, each head's part stacked as a heat map (pairs × heads). */
  public static Plot layerBreakdown(dev.saelab.circuits.LayerTable t, int pairs) {
    int n = Math.min(pairs, t.edges().size());
    if (n == 0) {
      throw new IllegalArgumentException("layer breakdown plot: the table is empty");
    }
    double[][] z = new double[n][];
    List<String> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      var e = t.edges().get(i);
      z[i] = e.perHead().clone();
      rows.add(e.row() + "→" + e.col());
    }
    List<String> heads = new ArrayList<>();
    for (int h = 0; h < t.nHeads(); h++) {
      heads.add("H" + h);
    }
    return heatmap(
        t.kind().id().toUpperCase(java.util.Locale.ROOT)
            + " L"
            + t.layer()
            + " summed over heads: each head's part",
        "head",
        t.kind().rowColumn().replace("_feature", "")
            + "→"
            + t.kind().colColumn().replace("_feature", ""),
        z,
        heads,
        rows);
  }
}
