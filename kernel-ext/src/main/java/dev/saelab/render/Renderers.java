package dev.saelab.render;

import dev.saelab.api.Analysis;
import dev.saelab.api.FeatureTable;
import dev.saelab.api.Plot;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import org.knowm.xchart.internal.chartpart.Chart;
import tech.tablesaw.api.Table;

/**
 * Kernel-neutral rendering of the types SAE Lab displays: its own {@link MimeBundle} objects, any Tablesaw
 * {@link Table} (sortable HTML) and any XChart chart (PNG and SVG).
 */
public final class Renderers {
  private Renderers() {}

  /** The classes the kernel adapters register a renderer for. */
  public static final java.util.List<Class<?>> TYPES = java.util.List.of(MimeBundle.class, FeatureTable.class, Analysis.class,
      Plot.class, Table.class, Chart.class);

  /** Whether {@link #bundle} renders this object. */
  public static boolean canRender(Object o) {
    return TYPES.stream().anyMatch(t -> t.isInstance(o));
  }

  /** The MIME bundle of an object this class renders, or a text/plain-only bundle for anything else. */
  public static Map<String, Object> bundle(Object o) {
    if (o instanceof MimeBundle m) {
      return m.mimeBundle();
    }
    if (o instanceof FeatureTable t) {
      return featureTable(t);
    }
    if (o instanceof Analysis a) {
      return analysis(a);
    }
    if (o instanceof Plot p) {
      return plot(p);
    }
    if (o instanceof Table t) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("text/html", HtmlTables.tablesaw(t, 200));
      m.put("text/plain", t.print(20));
      return m;
    }
    if (o instanceof Chart<?, ?> c) {
      return plot(new Plot(c));
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("text/plain", String.valueOf(o));
    return m;
  }

  /** A feature table: sortable HTML (first 200 rows) and its text form. */
  public static Map<String, Object> featureTable(FeatureTable t) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("text/html", HtmlTables.featureTable(t, 200));
    m.put("text/plain", t.toString());
    return m;
  }

  /** An analysis: its title, the plot above the sortable table. */
  public static Map<String, Object> analysis(Analysis a) {
    Map<String, Object> m = new LinkedHashMap<>();
    StringBuilder html = new StringBuilder("<div class=\"saelab-analysis\"><b>")
        .append(HtmlTables.escape(a.title())).append("</b>");
    if (a.plot() != null) {
      html.append("<br><img src=\"data:image/png;base64,").append(Base64.getEncoder().encodeToString(a.plot().png()))
          .append("\">");
    }
    html.append(HtmlTables.tablesaw(a.table(), Analysis.SHOWN_ROWS)).append("</div>");
    m.put("text/html", html.toString());
    m.put("text/plain", a.title() + "\n" + a.table().print(20));
    return m;
  }

  /** A plot: PNG and SVG. */
  public static Map<String, Object> plot(Plot p) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("image/png", Base64.getEncoder().encodeToString(p.png()));
    m.put("image/svg+xml", p.svg());
    m.put("text/plain", p.toString());
    return m;
  }
}
