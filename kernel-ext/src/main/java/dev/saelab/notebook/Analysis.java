package dev.saelab.notebook;

import dev.saelab.render.HtmlTables;
import dev.saelab.render.MimeBundle;
import dev.saelab.render.Plot;
import java.util.LinkedHashMap;
import java.util.Map;
import tech.tablesaw.api.Table;

/**
 * The result of an analysis in a notebook: its numbers as a Tablesaw {@link Table} and, where one fits, a
 * {@link Plot}; renders as the plot above the sortable table.
 *
 * <pre>
 * Analysis p = SaeLab.circuits(model, 1).saeIn(sae).ropeProfile();
 * p.table().where(p.table().intColumn("head").isEqualTo(3))   // Tablesaw from here on
 * p.plot()                                                     // just the plot
 * </pre>
 *
 * @param title what was computed
 * @param table the numbers, one row per point / pair / direction
 * @param plot the plot, or null
 */
public record Analysis(String title, Table table, Plot plot) implements MimeBundle {
  /** Rows shown in the notebook (the table itself keeps all). */
  public static final int SHOWN_ROWS = 200;

  @Override
  public Map<String, Object> mimeBundle() {
    Map<String, Object> m = new LinkedHashMap<>();
    StringBuilder html = new StringBuilder("<div class=\"saelab-analysis\"><b>")
        .append(HtmlTables.escape(title)).append("</b>");
    if (plot != null) {
      html.append("<br>").append(plot.htmlImg());
    }
    html.append(HtmlTables.tablesaw(table, SHOWN_ROWS)).append("</div>");
    m.put("text/html", html.toString());
    m.put("text/plain", title + "\n" + HtmlTables.plainText(table, 20));
    return m;
  }

  @Override
  public String toString() {
    return title + " (" + table.rowCount() + " rows)";
  }
}
