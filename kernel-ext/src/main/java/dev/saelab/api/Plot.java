package dev.saelab.api;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.internal.chartpart.Chart;

/**
 * An XChart chart that renders itself in a notebook as an {@code image/png}, drawn at {@link
 * #SCALE}× its logical size ({@link #width()} × {@link #height()}, e.g. 720 × 420 px → a 1440 × 840
 * px PNG) and shown at the logical size: the bundle's metadata says {@code {"image/png": {"width":
 * 720, "height": 420}}} (Jupyter and nbconvert size the image by it), and the renderers give the
 * same as an {@code <img width height>} for HTML. So the plot is crisp on high-density screens and
 * visible in every exported HTML page.
 *
 * <p>SVG only on request, because nbconvert prefers {@code image/svg+xml} over PNG and its HTML
 * export sanitises the SVG's elements away (a blank box): {@link #withSvg()} adds {@code
 * image/svg+xml} to one plot's bundle, the system property {@value #SVG_PROPERTY}{@code =true}
 * ({@code -Dsaelab.plot.svg=true}, or {@code System.setProperty("saelab.plot.svg", "true")} in a
 * cell) to every plot's. {@link #svg()} and {@link #saveSvg} always work.
 *
 * <pre>
 * Plot p = Plots.line("top values", "rank", "|value|", series);
 * p.savePng(Path.of("top.png"));   // 2× PNG
 * p.withSvg()                      // as the cell's value: PNG and SVG
 * </pre>
 */
public final class Plot {
  /**
   * Device pixels per logical pixel of {@link #png()}: the PNG is this many times the chart's width
   * and height.
   */
  public static final int SCALE = 2;

  /**
   * System property that, set to {@code true}, adds {@code image/svg+xml} to every plot's bundle.
   */
  public static final String SVG_PROPERTY = "saelab.plot.svg";

  private final Chart<?, ?> chart;
  private final boolean withSvg;

  /** Wraps a chart. */
  public Plot(Chart<?, ?> chart) {
    this(chart, false);
  }

  private Plot(Chart<?, ?> chart, boolean withSvg) {
    this.chart = chart;
    this.withSvg = withSvg;
  }

  /**
   * The same chart, with {@code image/svg+xml} in its bundle as well (see the class comment for the
   * catch).
   */
  public Plot withSvg() {
    return new Plot(chart, true);
  }

  /**
   * Whether the bundle carries {@code image/svg+xml}: {@link #withSvg()} or the {@value
   * #SVG_PROPERTY} property.
   */
  public boolean includesSvg() {
    return withSvg || Boolean.getBoolean(SVG_PROPERTY);
  }

  /** Logical width in CSS pixels (the PNG has {@link #SCALE} times as many). */
  public int width() {
    return chart.getWidth();
  }

  /** Logical height in CSS pixels. */
  public int height() {
    return chart.getHeight();
  }

  /** The XChart chart, for styling. */
  public Chart<?, ?> chart() {
    return chart;
  }

  /** PNG bytes at {@link #SCALE}× the logical size. */
  public byte[] png() {
    return png(SCALE);
  }

  /**
   * PNG bytes at {@code scale}× the logical size (1: XChart's own bitmap size), drawn through a
   * scaled Graphics2D.
   */
  public byte[] png(int scale) {
    if (scale < 1 || scale > 8) {
      throw new IllegalArgumentException("PNG scale " + scale + ": expected 1..8");
    }
    BufferedImage img =
        new BufferedImage(width() * scale, height() * scale, BufferedImage.TYPE_INT_ARGB);
    Graphics2D g = img.createGraphics();
    try {
      g.scale(scale, scale);
      chart.paint(g, width(), height());
    } finally {
      g.dispose();
    }
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ImageIO.write(img, "png", out);
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * SVG text, starting at the {@code <svg>} element: the XML declaration and DOCTYPE are dropped so
   * that the text embeds in HTML (nbconvert's HTML export rejects an encoding declaration inside a
   * string).
   */
  public String svg() {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      VectorGraphicsEncoder.saveVectorGraphic(
          chart, out, VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
      String s = out.toString(StandardCharsets.UTF_8);
      int at = s.indexOf("<svg");
      return at > 0 ? s.substring(at) : s;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes the PNG ({@link #SCALE}× the logical size). */
  public void savePng(Path file) throws IOException {
    Files.write(file, png());
  }

  /** Writes the SVG. */
  public void saveSvg(Path file) throws IOException {
    Files.writeString(file, svg());
  }

  @Override
  public String toString() {
    return "Plot["
        + chart.getClass().getSimpleName()
        + " \""
        + chart.getTitle()
        + "\" "
        + chart.getWidth()
        + "x"
        + chart.getHeight()
        + "]";
  }
}
