package dev.saelab.render;

import dev.saelab.api.Analysis;
import dev.saelab.api.FeatureTable;
import dev.saelab.api.Plot;
import dev.saelab.circuits.HeadSvd;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeConfig;
import dev.saelab.sae.SaeDictionary;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.knowm.xchart.internal.chartpart.Chart;
import tech.tablesaw.api.Table;

/**
 * Kernel-neutral rendering of the types SAE Lab displays: its own {@link MimeBundle} objects, any
 * Tablesaw {@link Table} (sortable HTML, numbers to 5 significant digits), any XChart chart (a 2×
 * PNG, see {@link Plot}), and a summary card (HTML key/value table, text/plain from {@code
 * toString()}) for what the loading magics and the API return: {@link ModelWeights}, {@link
 * SaeDictionary}, {@link FeatureLabels}, {@link AttentionWeights}, {@link HeadSvd}. Those classes
 * stay free of rendering code: their packages never import this one.
 */
public final class Renderers {
  private Renderers() {}

  /** The classes the kernel adapters register a renderer for. */
  public static final java.util.List<Class<?>> TYPES =
      java.util.List.of(
          MimeBundle.class,
          FeatureTable.class,
          Analysis.class,
          Plot.class,
          Table.class,
          Chart.class,
          ModelWeights.class,
          SaeDictionary.class,
          dev.saelab.forward.Activations.class,
          FeatureLabels.class,
          AttentionWeights.class,
          HeadSvd.class);

  /** Whether {@link #bundle} renders this object. */
  public static boolean canRender(Object o) {
    return TYPES.stream().anyMatch(t -> t.isInstance(o));
  }

  /**
   * The MIME bundle of an object this class renders, or a text/plain-only bundle for anything else.
   */
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
      m.put("text/plain", HtmlTables.plainText(t, 20));
      return m;
    }
    if (o instanceof Chart<?, ?> c) {
      return plot(new Plot(c));
    }
    Map<String, Object> m = new LinkedHashMap<>();
    Map<String, String> fields = summary(o);
    if (fields != null) {
      m.put("text/html", HtmlTables.summary(o.getClass().getSimpleName(), fields));
    }
    m.put("text/plain", String.valueOf(o));
    return m;
  }

  /** The fields of an object's summary card, or null for a type without one. */
  static Map<String, String> summary(Object o) {
    Map<String, String> f = new LinkedHashMap<>();
    if (o instanceof ModelWeights w) {
      ModelConfig c = w.config();
      f.put("model type", c.modelType());
      f.put("n_layers", Integer.toString(c.nLayers()));
      f.put("d_model", Integer.toString(c.dModel()));
      f.put("n_heads", Integer.toString(c.nHeads()));
      f.put("n_kv_heads", Integer.toString(c.nKvHeads()));
      f.put("d_head", Integer.toString(c.dHead()));
      f.put("norm", String.valueOf(c.norm()));
      if (c.ropeTheta() > 0) {
        f.put("rope θ", HtmlTables.number(c.ropeTheta()));
      }
      if (c.slidingWindow() > 0) {
        f.put("sliding window", Integer.toString(c.slidingWindow()));
      }
      f.put("path", String.valueOf(w.folder()));
    } else if (o instanceof SaeDictionary s) {
      SaeConfig c = s.config();
      f.put("architecture", c.architecture() + (c.k() > 0 ? " (k=" + c.k() + ")" : ""));
      f.put("d_in", Long.toString(c.dIn()));
      f.put("d_sae", Long.toString(c.dSae()));
      f.put("hook", String.valueOf(c.hookName()));
      f.put("layer", c.layer() < 0 ? "?" : Integer.toString(c.layer()));
      f.put("format", c.format());
      if (c.neuronpediaId() != null) {
        f.put("Neuronpedia", c.neuronpediaId());
      }
      f.put("path", String.valueOf(s.path()));
    } else if (o instanceof dev.saelab.forward.Activations a) {
      int[] ids = a.tokenIds();
      f.put("tokens", ids.length + (ids.length <= 32 ? " " + Arrays.toString(ids) : ""));
      a.byName().forEach((name, x) -> f.put(name, Arrays.toString(x.shape())));
    } else if (o instanceof FeatureLabels l) {
      f.put(
          "Neuronpedia source", l.neuronpediaSource() == null ? "unknown" : l.neuronpediaSource());
      f.put("explanations", Integer.toString(l.explanationCount()));
      f.put("labelled features", Integer.toString(l.featureCount()));
      f.put("max index", Integer.toString(l.maxIndex()));
      f.put("source", l.origin());
    } else if (o instanceof AttentionWeights a) {
      ModelConfig c = a.config();
      f.put("layer", Integer.toString(a.layer()));
      f.put("model type", c.modelType());
      f.put("heads", c.nHeads() + " query, " + c.nKvHeads() + " key/value, d_head " + c.dHead());
      f.put("d_model", Integer.toString(c.dModel()));
      f.put(
          "W_Q W_K W_V W_O",
          Arrays.toString(a.wQ().shape())
              + " "
              + Arrays.toString(a.wK().shape())
              + " "
              + Arrays.toString(a.wV().shape())
              + " "
              + Arrays.toString(a.wO().shape()));
      f.put("biases", a.biases());
      f.put(
          "norms",
          a.inputNorm().kind()
              + " before attention"
              + (a.postAttnNorm() == null ? "" : ", " + a.postAttnNorm().kind() + " after"));
    } else if (o instanceof HeadSvd s) {
      f.put(
          "circuit",
          s.kind().id().toUpperCase(Locale.ROOT) + (s.augmented() ? " (bias-augmented)" : ""));
      f.put("head", s.headName());
      f.put("singular values", Integer.toString(s.sigma().length));
      StringBuilder top = new StringBuilder();
      for (int k = 0; k < Math.min(6, s.sigma().length); k++) {
        top.append(k == 0 ? "" : ", ").append(HtmlTables.number(s.sigma()[k]));
      }
      f.put("largest", top.append(s.sigma().length > 6 ? ", …" : "").toString());
    } else {
      return null;
    }
    return f;
  }

  /**
   * Display metadata by MIME type for {@link #bundle}'s output (a plot's PNG display size); empty
   * if none.
   */
  public static Map<String, Object> metadata(Object o) {
    if (o instanceof MimeBundle m) {
      return m.mimeMetadata();
    }
    if (o instanceof Plot p) {
      return plotMetadata(p);
    }
    if (o instanceof Chart<?, ?> c) {
      return plotMetadata(new Plot(c));
    }
    return Map.of();
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
    StringBuilder html =
        new StringBuilder("<div class=\"saelab-analysis\"><b>")
            .append(HtmlTables.escape(a.title()))
            .append("</b>");
    if (a.plot() != null) {
      html.append("<br>").append(img(a.plot()));
    }
    html.append(HtmlTables.tablesaw(a.table(), Analysis.SHOWN_ROWS)).append("</div>");
    m.put("text/html", html.toString());
    m.put("text/plain", a.title() + "\n" + HtmlTables.plainText(a.table(), 20));
    return m;
  }

  /**
   * A plot: the 2× PNG (shown at the chart's size, see {@link #metadata}), and SVG only when the
   * plot asks for it.
   */
  public static Map<String, Object> plot(Plot p) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("image/png", Base64.getEncoder().encodeToString(p.png()));
    if (p.includesSvg()) {
      m.put("image/svg+xml", p.svg());
    }
    m.put("text/plain", p.toString());
    return m;
  }

  /** The PNG's display size: {@code {"image/png": {"width": w, "height": h}}} in logical pixels. */
  static Map<String, Object> plotMetadata(Plot p) {
    return Map.of("image/png", Map.of("width", p.width(), "height", p.height()));
  }

  /**
   * The plot as an {@code <img>} at the chart's logical size (the PNG has {@link Plot#SCALE}× the
   * pixels).
   */
  public static String img(Plot p) {
    return "<img src=\"data:image/png;base64,"
        + Base64.getEncoder().encodeToString(p.png())
        + "\" width=\""
        + p.width()
        + "\" height=\""
        + p.height()
        + "\" alt=\""
        + HtmlTables.escape(String.valueOf(p.chart().getTitle()))
        + "\">";
  }
}
