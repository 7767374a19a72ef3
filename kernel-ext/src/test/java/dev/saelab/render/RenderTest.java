package dev.saelab.render;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.api.FeatureTable;
import dev.saelab.api.Plot;
import dev.saelab.api.Plots;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitTable;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.RankBy;
import dev.saelab.testutil.TestFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tech.tablesaw.api.Table;

/** HTML tables and plots: what a notebook user sees. */
class RenderTest {
  static FeatureTable table(FeatureLabels labels) {
    CircuitTable t =
        new CircuitTable(
            CircuitKind.QK,
            13,
            4,
            RankBy.ABS,
            1.0,
            List.of(
                new FeatureEdge(17, 42, 9.5f),
                new FeatureEdge(3, 3, -4.25f),
                new FeatureEdge(8, 1, 0.5f)));
    return new FeatureTable(List.of(t), labels, null);
  }

  @Test
  void featureTableHtmlHasLinksLabelsShadingAndSorting(@TempDir Path dir) throws Exception {
    String longLabel = "a <b>very</b> long label & more, " + "x".repeat(80);
    Path json = dir.resolve("np.json");
    Files.writeString(
        json,
        "{\"explanations\":[{\"modelId\":\"gemma-2-2b\",\"layer\":\"12-gemmascope-res-16k\","
            + "\"index\":\"17\",\"description\":\""
            + longLabel
            + "\"}]}");
    FeatureLabels labels = NeuronpediaLabels.read(json);
    String html = Renderers.bundle(table(labels)).get("text/html").toString();
    assertTrue(
        html.contains("href=\"https://www.neuronpedia.org/gemma-2-2b/12-gemmascope-res-16k/17\""),
        html);
    assertTrue(html.contains("<td>L13H4</td>"));
    assertTrue(html.contains("onclick=\"saelabSort(this)\""));
    assertTrue(
        html.contains("title=\"a &lt;b&gt;very&lt;/b&gt; long label &amp; more, "),
        "full label on hover");
    assertFalse(html.contains("<b>very</b>"), "label text is escaped");
    assertTrue(html.contains("…</td>"), "long label truncated");
    assertTrue(
        html.contains("data-v=\"9.5\" style=\"background:rgba(33,102,172,0.600)\""),
        "max positive: blue");
    assertTrue(
        html.contains("data-v=\"-4.25\" style=\"background:rgba(178,24,43,0.268)\""),
        "negative: red");
    String text = Renderers.bundle(table(labels)).get("text/plain").toString();
    assertTrue(text.contains("L13H4") && text.contains("17"), text);
  }

  @Test
  void shadeScalesWithMagnitude() {
    assertEquals("background:rgba(33,102,172,0.300)", HtmlTables.shade(1, 2));
    assertEquals("background:rgba(178,24,43,0.600)", HtmlTables.shade(-2, 2));
    assertEquals("background:rgba(33,102,172,0.000)", HtmlTables.shade(0, 0));
  }

  @Test
  void tablesawTablesRenderSortableWithNumericKeys() {
    Table t = table(null).toTablesaw();
    assertEquals(
        List.of(
            "circuit",
            "layer",
            "head",
            "rank",
            "query_feature",
            "key_feature",
            "value",
            "query_label",
            "key_label"),
        t.columnNames());
    assertEquals(3, t.rowCount());
    assertEquals(-4.25, t.doubleColumn("value").get(1), 0);
    String html = Renderers.bundle(t).get("text/html").toString();
    assertTrue(html.contains("<th onclick=\"saelabSort(this)\">value</th>"));
    assertTrue(html.contains("data-v=\"-4.25\""));
    assertTrue(Renderers.canRender(t));
  }

  @Test
  void plotsRenderPngAndSvg(@TempDir Path dir) throws Exception {
    Plot heat =
        Plots.heatmap(
            "QK L1H1",
            "key feature",
            "query feature",
            new double[][] {{1, -2}, {0.5, 3}},
            List.of("41", "42"),
            List.of("16", "17"));
    Map<String, Object> b = Renderers.bundle(heat);
    byte[] png = Base64.getDecoder().decode(b.get("image/png").toString());
    assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
    assertTrue(
        dev.saelab.render.Renderers.bundle(heat.withSvg())
            .get("image/svg+xml")
            .toString()
            .startsWith("<svg"),
        "no XML declaration: it embeds in HTML");
    Plot line =
        Plots.line(
            "decay",
            "rank",
            "|value|",
            new double[] {1, 2, 3},
            Map.of("h0", new double[] {3, 2, 1}));
    Plot scatter = Plots.scatter("norms", "q", "k", new double[] {1, 2}, new double[] {2, 1});
    line.savePng(dir.resolve("l.png"));
    scatter.saveSvg(dir.resolve("s.svg"));
    assertTrue(Files.size(dir.resolve("l.png")) > 1000);
    assertTrue(Files.readString(dir.resolve("s.svg"), StandardCharsets.UTF_8).contains("<svg"));
    assertTrue(Plots.topValues(table(null)).png().length > 1000);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                Plots.heatmap(
                    "x", "a", "b", new double[][] {{1, 2}}, List.of("only one"), List.of("r")));
    assertTrue(e.getMessage().contains("1x2 values but 1 row and 1 column labels"), e.getMessage());
  }

  /** Width and height from a PNG's IHDR chunk. */
  static int[] pngSize(byte[] png) {
    assertArrayEquals(
        new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, Arrays.copyOf(png, 8));
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(png);
    return new int[] {b.getInt(16), b.getInt(20)};
  }

  @Test
  void plotBundleIsA2xPngShownAtLogicalSizeAndSvgOnlyOnRequest() {
    Plot p =
        Plots.line(
            "decay",
            "rank",
            "|value|",
            new double[] {1, 2, 3},
            Map.of("h0", new double[] {3, 2, 1}));
    assertEquals(List.of(Plots.WIDTH, Plots.HEIGHT), List.of(p.width(), p.height()));
    Map<String, Object> b = dev.saelab.render.Renderers.bundle(p);
    assertEquals(
        List.of("image/png", "text/plain"),
        List.copyOf(b.keySet()),
        "PNG first, no SVG by default");
    int[] size = pngSize(Base64.getDecoder().decode(b.get("image/png").toString()));
    assertArrayEquals(new int[] {2 * Plots.WIDTH, 2 * Plots.HEIGHT}, size, "drawn at 2x");
    assertEquals(
        Map.of("image/png", Map.of("width", Plots.WIDTH, "height", Plots.HEIGHT)),
        dev.saelab.render.Renderers.metadata(p),
        "shown at the logical size");
    assertArrayEquals(new int[] {Plots.WIDTH, Plots.HEIGHT}, pngSize(p.png(1)));
    assertTrue(
        b.get("text/plain").toString().startsWith("Plot[XYChart \"decay\" 720x420"), b.toString());

    Map<String, Object> withSvg = dev.saelab.render.Renderers.bundle(p.withSvg());
    assertEquals(
        List.of("image/png", "image/svg+xml", "text/plain"), List.copyOf(withSvg.keySet()));
    assertTrue(withSvg.get("image/svg+xml").toString().startsWith("<svg"));
    assertFalse(p.includesSvg(), "withSvg() returns a new plot");
    System.setProperty(Plot.SVG_PROPERTY, "true");
    try {
      assertTrue(
          dev.saelab.render.Renderers.bundle(p).containsKey("image/svg+xml"),
          "-Dsaelab.plot.svg=true: every plot");
    } finally {
      System.clearProperty(Plot.SVG_PROPERTY);
    }

    // a bare XChart chart renders the same way, metadata included
    assertEquals(
        List.of("image/png", "text/plain"), List.copyOf(Renderers.bundle(p.chart()).keySet()));
    assertEquals(dev.saelab.render.Renderers.metadata(p), Renderers.metadata(p.chart()));
    assertEquals(Map.of(), Renderers.metadata(table(null)), "no metadata for a table");

    // HTML embedding (Analysis): the 2x PNG in an <img> at the logical size
    String img = dev.saelab.render.Renderers.img(p);
    assertTrue(
        img.startsWith("<img src=\"data:image/png;base64,")
            && img.contains(" width=\"720\" height=\"420\""),
        img.substring(0, 60));
    String html =
        dev.saelab.render.Renderers.bundle(
                new dev.saelab.api.Analysis("t", table(null).toTablesaw(), p))
            .get("text/html")
            .toString();
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile(
                "<img src=\"data:image/png;base64,([^\"]+)\" width=\"(\\d+)\""
                    + " height=\"(\\d+)\"")
            .matcher(html);
    assertTrue(m.find(), "Analysis embeds its plot as an <img>");
    size = pngSize(Base64.getDecoder().decode(m.group(1)));
    assertArrayEquals(
        new int[] {2 * Integer.parseInt(m.group(2)), 2 * Integer.parseInt(m.group(3))}, size);
  }

  @Test
  void tablesawNumbersShowFiveSignificantDigitsWithoutChangingTheTable() {
    Table t =
        Table.create(
            "numbers",
            tech.tablesaw.api.DoubleColumn.create("x", Math.PI, -1.0 / 3e7, 123456.789, Double.NaN),
            tech.tablesaw.api.FloatColumn.create("f", new float[] {(float) Math.E, 0.1f, 2f, 3f}),
            tech.tablesaw.api.IntColumn.create("i", 1234567, 2, 3, 4));
    String html = Renderers.bundle(t).get("text/html").toString();
    assertTrue(html.contains("data-v=\"3.141592653589793\">3.1416</td>"), html);
    assertTrue(
        html.contains(">-3.3333e-08</td>")
            && html.contains(">1.2346e+05</td>")
            && html.contains(">2.7183</td>"),
        html);
    assertTrue(html.contains(">1234567</td>"), "integers as they are");
    String text = Renderers.bundle(t).get("text/plain").toString();
    assertTrue(
        text.contains("3.1416") && text.contains("-3.3333e-08") && text.contains("2.7183"), text);
    assertFalse(text.contains("3.14159") || text.contains("2.71828") || text.contains("NaN"), text);
    assertTrue(text.contains("1234567"), text);
    assertEquals(
        "3.141592653589793",
        t.doubleColumn("x").getString(0),
        "the table's own formatting is untouched");
    Table big =
        Table.create(
            "big",
            tech.tablesaw.api.DoubleColumn.create(
                "x", java.util.stream.IntStream.range(0, 50).mapToDouble(i -> i / 7.0).toArray()));
    String bigText = HtmlTables.plainText(big, 20);
    assertTrue(
        bigText.contains("...") && bigText.contains("7.0000") && !bigText.contains("0.142857"),
        bigText);
    String analysis =
        dev.saelab.render.Renderers.bundle(new dev.saelab.api.Analysis("numbers", t, null))
            .get("text/plain")
            .toString();
    assertTrue(
        analysis.startsWith("numbers\n")
            && analysis.contains("3.1416")
            && !analysis.contains("3.14159"),
        analysis);
  }

  @Test
  void escapeCoversHtmlSpecials() {
    assertEquals("&lt;a href=&quot;x&quot;&gt;&amp;&#39;", HtmlTables.escape("<a href=\"x\">&'"));
  }

  @Test
  void shippedLabelsJoinTheTable() {
    FeatureLabels l =
        NeuronpediaLabels.read(
            TestFiles.datasets().resolve("tiny-neuronpedia/tiny-gemma2_0-tinyscope-res-128.json"));
    FeatureTable t = table(l);
    assertEquals(l.labelOrEmpty(17), t.rows().get(0).rowLabel());
    assertEquals(
        l.labelOrEmpty(42), t.rows().get(0).colLabel(), "QK key labels come from the same SAE");
  }
}
