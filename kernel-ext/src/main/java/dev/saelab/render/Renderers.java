package dev.saelab.render;

import java.util.LinkedHashMap;
import java.util.Map;
import org.knowm.xchart.internal.chartpart.Chart;
import tech.tablesaw.api.Table;

/**
 * Kernel-neutral rendering of the types SAE Lab displays: its own {@link MimeBundle} objects, any Tablesaw
 * {@link Table} (sortable HTML) and any XChart chart (a 2× PNG, see {@link Plot}).
 */
public final class Renderers {
  private Renderers() {}

  /** The classes the kernel adapters register a renderer for. */
  public static final java.util.List<Class<?>> TYPES = java.util.List.of(MimeBundle.class, Table.class, Chart.class);

  /** Whether {@link #bundle} renders this object. */
  public static boolean canRender(Object o) {
    return o instanceof MimeBundle || o instanceof Table || o instanceof Chart;
  }

  /** The MIME bundle of an object this class renders, or a text/plain-only bundle for anything else. */
  public static Map<String, Object> bundle(Object o) {
    if (o instanceof MimeBundle m) {
      return m.mimeBundle();
    }
    if (o instanceof Table t) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("text/html", HtmlTables.tablesaw(t, 200));
      m.put("text/plain", t.print(20));
      return m;
    }
    if (o instanceof Chart<?, ?> c) {
      return new Plot(c).mimeBundle();
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("text/plain", String.valueOf(o));
    return m;
  }

  /** Display metadata by MIME type for {@link #bundle}'s output (a plot's PNG display size); empty if none. */
  public static Map<String, Object> metadata(Object o) {
    if (o instanceof MimeBundle m) {
      return m.mimeMetadata();
    }
    if (o instanceof Chart<?, ?> c) {
      return new Plot(c).mimeMetadata();
    }
    return Map.of();
  }
}
