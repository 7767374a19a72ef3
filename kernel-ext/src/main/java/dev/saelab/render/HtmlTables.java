package dev.saelab.render;

import dev.saelab.api.FeatureTable;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.labels.FeatureLabels;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import tech.tablesaw.api.ColumnType;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.FloatColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.columns.Column;
import tech.tablesaw.columns.numbers.NumberColumnFormatter;

/**
 * HTML for notebook tables: sortable by clicking a header (a few lines of inline script, no
 * external assets), numeric cells carrying their value in {@code data-v} so sorting is numeric,
 * long labels truncated with the full text on hover, circuit values shaded by sign (blue positive,
 * red negative) and size.
 */
public final class HtmlTables {
  /** Labels longer than this are truncated in the cell (the full text is in the tooltip). */
  public static final int LABEL_CHARS = 60;

  private static final String SORT_SCRIPT =
      "<script>if(!window.saelabSort){window.saelabSort=function(th){var"
          + " t=th.closest('table'),i=Array.prototype.indexOf.call(th.parentNode.children,th),b=t.tBodies[0],"
          + "r=Array.prototype.slice.call(b.rows),asc=th.getAttribute('data-asc')!=='1';"
          + "th.setAttribute('data-asc',asc?'1':'0');r.sort(function(x,y){var"
          + " a=x.cells[i].getAttribute('data-v'),c=y.cells[i].getAttribute('data-v'),d;"
          + "if(a!==null&&c!==null){d=parseFloat(a)-parseFloat(c);}else{d=x.cells[i].textContent.localeCompare(y.cells[i].textContent);}return"
          + " asc?d:-d;});r.forEach(function(e){b.appendChild(e);});};}</script>";
  private static final String STYLE =
      "<style>.saelab-t{border-collapse:collapse;font-size:12px}.saelab-t"
          + " th{cursor:pointer;background:#f0f0f0;position:sticky;top:0}.saelab-t td,.saelab-t"
          + " th{padding:2px 6px;border-bottom:1px solid #ddd;text-align:left}.saelab-t"
          + " td.n{text-align:right;font-family:monospace}</style>";

  private HtmlTables() {}

  /**
   * A feature table: rank, head, the two features (linked to Neuronpedia when known) with labels,
   * the value.
   */
  public static String featureTable(FeatureTable t, int maxRows) {
    CircuitKind k = t.singleKind();
    String rowName = k == null ? "row feature" : k.rowColumn().replace('_', ' ');
    String colName = k == null ? "column feature" : k.colColumn().replace('_', ' ');
    double max = 0;
    for (FeatureTable.Row r : t.rows()) {
      max = Math.max(max, Math.abs(r.value()));
    }
    StringBuilder sb = new StringBuilder(STYLE).append(SORT_SCRIPT);
    if (!t.note().isEmpty()) {
      sb.append("<div><i>").append(escape(t.note())).append("</i></div>");
    }
    sb.append(
        "<div style=\"max-height:480px;overflow:auto\"><table class=\"saelab-t\"><thead><tr>");
    for (String h :
        List.of(
            "rank",
            "head",
            "circuit",
            rowName,
            rowName.replace("feature", "label"),
            colName,
            colName.replace("feature", "label"),
            "value")) {
      sb.append("<th onclick=\"saelabSort(this)\" title=\"click to sort\">")
          .append(escape(h))
          .append("</th>");
    }
    sb.append("</tr></thead><tbody>");
    int n = 0;
    for (FeatureTable.Row r : t.rows()) {
      if (n++ >= maxRows) {
        break;
      }
      FeatureLabels colLabels = t.columnLabels(r.kind());
      sb.append("<tr>");
      num(sb, r.rank(), Integer.toString(r.rank()), "");
      sb.append("<td>").append(r.headName()).append("</td>");
      sb.append("<td>").append(r.kind().id()).append("</td>");
      feature(sb, r.rowFeature(), t.rowLabels());
      label(sb, r.rowLabel());
      feature(sb, r.colFeature(), colLabels);
      label(sb, r.colLabel());
      num(sb, r.value(), String.format(Locale.ROOT, "%.5g", r.value()), shade(r.value(), max));
      sb.append("</tr>");
    }
    sb.append("</tbody></table></div>");
    if (t.size() > maxRows) {
      sb.append("<div style=\"font-size:11px;color:#666\">first ")
          .append(maxRows)
          .append(" of ")
          .append(t.size())
          .append(" rows; use .head(n), .forHead(h) or .toTablesaw() for the rest</div>");
    }
    return sb.toString();
  }

  /**
   * Any Tablesaw table, sortable, numeric columns right-aligned; floating-point cells show {@link
   * #number} (5 significant digits) and keep the exact value in {@code data-v} for sorting.
   */
  public static String tablesaw(Table t, int maxRows) {
    StringBuilder sb = new StringBuilder(STYLE).append(SORT_SCRIPT);
    sb.append("<div style=\"max-height:480px;overflow:auto\"><table class=\"saelab-t\"><caption>")
        .append(escape(t.name()))
        .append("</caption><thead><tr>");
    for (Column<?> c : t.columns()) {
      sb.append("<th onclick=\"saelabSort(this)\">").append(escape(c.name())).append("</th>");
    }
    sb.append("</tr></thead><tbody>");
    int rows = Math.min(maxRows, t.rowCount());
    for (int i = 0; i < rows; i++) {
      sb.append("<tr>");
      for (Column<?> c : t.columns()) {
        boolean numeric =
            c.type() == ColumnType.INTEGER
                || c.type() == ColumnType.DOUBLE
                || c.type() == ColumnType.FLOAT
                || c.type() == ColumnType.LONG
                || c.type() == ColumnType.SHORT;
        boolean floating = c.type() == ColumnType.DOUBLE || c.type() == ColumnType.FLOAT;
        String text =
            floating && !c.isMissing(i)
                ? number(((Number) c.get(i)).doubleValue())
                : c.getString(i);
        if (numeric && !c.isMissing(i)) {
          sb.append("<td class=\"n\" data-v=\"")
              .append(escape(String.valueOf(c.get(i))))
              .append("\">")
              .append(escape(text))
              .append("</td>");
        } else {
          label(sb, text);
        }
      }
      sb.append("</tr>");
    }
    sb.append("</tbody></table></div>");
    if (t.rowCount() > maxRows) {
      sb.append("<div style=\"font-size:11px;color:#666\">first ")
          .append(maxRows)
          .append(" of ")
          .append(t.rowCount())
          .append(" rows</div>");
    }
    return sb.toString();
  }

  /**
   * A table as text: Tablesaw's {@code print(maxRows)} (first and last rows around "..."), with
   * floating-point columns at 5 significant digits like {@link #number}. The table itself is not
   * changed.
   */
  public static String plainText(Table t, int maxRows) {
    Table shown = Table.create(t.name());
    for (Column<?> c : t.columns()) {
      if (c instanceof DoubleColumn d) {
        DoubleColumn copy = d.copy();
        copy.setPrintFormatter(SIGNIFICANT);
        shown.addColumns(copy);
      } else if (c instanceof FloatColumn f) {
        FloatColumn copy = f.copy();
        copy.setPrintFormatter(SIGNIFICANT);
        shown.addColumns(copy);
      } else {
        shown.addColumns(c);
      }
    }
    return shown.print(maxRows);
  }

  /**
   * A value as the tables show it: 5 significant digits ({@code %.5g}, as {@link FeatureTable}
   * does).
   */
  public static String number(double v) {
    return String.format(Locale.ROOT, "%.5g", v);
  }

  private static final NumberColumnFormatter SIGNIFICANT =
      new NumberColumnFormatter() {
        @Override
        public String format(double v) {
          return Double.isNaN(v) ? "" : number(v);
        }

        @Override
        public String format(float v) {
          return format((double) v);
        }
      };

  /**
   * A summary card: a two-column table of an object's fields under its type name (used for models,
   * SAEs, labels).
   */
  public static String summary(String title, Map<String, String> fields) {
    StringBuilder sb =
        new StringBuilder(STYLE)
            .append(
                "<table class=\"saelab-t saelab-summary\"><caption "
                    + "style=\"text-align:left;font-weight:bold\">")
            .append(escape(title))
            .append("</caption><tbody>");
    for (Map.Entry<String, String> e : fields.entrySet()) {
      sb.append("<tr><th style=\"cursor:auto;position:static\">")
          .append(escape(e.getKey()))
          .append("</th><td>")
          .append(escape(String.valueOf(e.getValue())))
          .append("</td></tr>");
    }
    return sb.append("</tbody></table>").toString();
  }

  /** Background colour for a value: blue for positive, red for negative, opacity by |v| / max. */
  static String shade(double v, double max) {
    double a = max == 0 ? 0 : Math.min(1, Math.abs(v) / max) * 0.6;
    return String.format(
        Locale.ROOT, "background:rgba(%s,%.3f)", v >= 0 ? "33,102,172" : "178,24,43", a);
  }

  private static void num(StringBuilder sb, double v, String text, String style) {
    sb.append("<td class=\"n\" data-v=\"").append(v).append('"');
    if (!style.isEmpty()) {
      sb.append(" style=\"").append(style).append('"');
    }
    sb.append('>').append(text).append("</td>");
  }

  private static void feature(StringBuilder sb, int i, FeatureLabels labels) {
    sb.append("<td class=\"n\" data-v=\"").append(i).append("\">");
    String url = labels == null ? null : labels.url(i).orElse(null);
    if (url != null) {
      sb.append("<a href=\"")
          .append(escape(url))
          .append("\" target=\"_blank\">")
          .append(i)
          .append("</a>");
    } else {
      sb.append(i);
    }
    sb.append("</td>");
  }

  private static void label(StringBuilder sb, String text) {
    String s = text == null ? "" : text.strip();
    if (s.length() > LABEL_CHARS) {
      sb.append("<td title=\"")
          .append(escape(s))
          .append("\">")
          .append(escape(s.substring(0, LABEL_CHARS - 1)))
          .append("…</td>");
    } else {
      sb.append("<td>").append(escape(s)).append("</td>");
    }
  }

  /** HTML-escapes text for element content and attribute values. */
  public static String escape(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '<' -> sb.append("&lt;");
        case '>' -> sb.append("&gt;");
        case '&' -> sb.append("&amp;");
        case '"' -> sb.append("&quot;");
        case '\'' -> sb.append("&#39;");
        default -> sb.append(c);
      }
    }
    return sb.toString();
  }
}
