package dev.saelab.api;


import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.internal.chartpart.Chart;

/**
 * An XChart chart that renders itself in a notebook as {@code image/png} and {@code image/svg+xml}.
 *
 * <pre>
 * Plot p = Plots.line("top values", "rank", "|value|", series);
 * p.savePng(Path.of("top.png"));
 * </pre>
 */
public final class Plot {
  private final Chart<?, ?> chart;

  /** Wraps a chart. */
  public Plot(Chart<?, ?> chart) {
    this.chart = chart;
  }

  /** The XChart chart, for styling. */
  public Chart<?, ?> chart() {
    return chart;
  }

  /** PNG bytes. */
  public byte[] png() {
    try {
      return BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * SVG text, starting at the {@code <svg>} element: the XML declaration and DOCTYPE are dropped so that the text
   * embeds in HTML (nbconvert's HTML export rejects an encoding declaration inside a string).
   */
  public String svg() {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      VectorGraphicsEncoder.saveVectorGraphic(chart, out, VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
      String s = out.toString(StandardCharsets.UTF_8);
      int at = s.indexOf("<svg");
      return at > 0 ? s.substring(at) : s;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes the PNG. */
  public void savePng(Path file) throws IOException {
    Files.write(file, png());
  }

  /** Writes the SVG. */
  public void saveSvg(Path file) throws IOException {
    Files.writeString(file, svg());
  }

  @Override
  public String toString() {
    return "Plot[" + chart.getClass().getSimpleName() + " \"" + chart.getTitle() + "\" " + chart.getWidth() + "x"
        + chart.getHeight() + "]";
  }
}
