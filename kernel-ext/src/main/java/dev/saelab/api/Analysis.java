package dev.saelab.api;

import tech.tablesaw.api.Table;

/**
 * The result of an analysis in a notebook: its numbers as a Tablesaw {@link Table} and, where one
 * fits, a {@link Plot}; renders as the plot above the sortable table.
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
public record Analysis(String title, Table table, Plot plot) {
  /** Rows shown in the notebook (the table itself keeps all). */
  public static final int SHOWN_ROWS = 200;

  /** Writes the table as CSV (a header row, then one row per point, pair or direction). */
  public void writeCsv(java.nio.file.Path file) {
    try {
      table.write().csv(file.toFile());
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(file + ": cannot write (" + e.getMessage() + ")", e);
    }
  }

  @Override
  public String toString() {
    return title + " (" + table.rowCount() + " rows)";
  }
}
