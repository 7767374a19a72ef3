package dev.saelab.api;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitTable;
import dev.saelab.circuits.TableWriter;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.linalg.FeatureEdge;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * Feature-to-feature attention tables of one layer as a notebook sees them: per head, the ranked
 * pairs of a QK or OV circuit, joined with the features' labels. Renders itself as a sortable HTML
 * table (and text/plain); converts to a Tablesaw {@link Table} for further analysis.
 *
 * <pre>
 * FeatureTable qk = SaeLab.circuits(model, 13).saeIn(sae12).labelsIn(labels12).heads(0).top(1000).qk();
 * qk.distinct().head(10)          // Bostock's "Distinct" table, first ten rows
 * qk.toTablesaw().sortOn("value") // a Tablesaw table
 * </pre>
 */
public final class FeatureTable {
  /**
   * One ranked pair.
   *
   * @param kind QK or OV
   * @param layer the attention layer
   * @param head query head index
   * @param rank 1-based rank within its head
   * @param rowFeature query feature (QK) or value feature (OV)
   * @param colFeature key feature (QK) or output feature (OV)
   * @param value the circuit value
   * @param rowLabel label of the row feature ("" when unknown)
   * @param colLabel label of the column feature ("" when unknown)
   */
  public record Row(
      CircuitKind kind,
      int layer,
      int head,
      int rank,
      int rowFeature,
      int colFeature,
      double value,
      String rowLabel,
      String colLabel) {
    /** The head as "L13H4". */
    public String headName() {
      return "L" + layer + "H" + head;
    }
  }

  private final List<CircuitTable> tables;
  private final FeatureLabels inLabels;
  private final FeatureLabels keyLabels;
  private final FeatureLabels outLabels;
  private final List<Row> rows;
  private String extraNote = "";

  /**
   * @param tables per-head circuit tables (all of one kind or mixed)
   * @param inLabels labels of the input SAE (query and value side), or null
   * @param outLabels labels of the output SAE (OV output side), or null
   */
  public FeatureTable(List<CircuitTable> tables, FeatureLabels inLabels, FeatureLabels outLabels) {
    this(tables, inLabels, inLabels, outLabels);
  }

  /**
   * @param tables per-head circuit tables (all of one kind or mixed)
   * @param inLabels labels of the input SAE (query and value side), or null
   * @param keyLabels labels of the key-side SAE, or null
   * @param outLabels labels of the output SAE (OV output side), or null
   */
  public FeatureTable(
      List<CircuitTable> tables,
      FeatureLabels inLabels,
      FeatureLabels keyLabels,
      FeatureLabels outLabels) {
    this.tables = List.copyOf(tables);
    this.inLabels = inLabels;
    this.keyLabels = keyLabels;
    this.outLabels = outLabels;
    List<Row> r = new ArrayList<>();
    for (CircuitTable t : tables) {
      FeatureLabels cl = columnLabels(t.kind());
      int rank = 1;
      for (FeatureEdge e : t.edges()) {
        r.add(
            new Row(
                t.kind(),
                t.layer(),
                t.head(),
                rank++,
                e.row(),
                e.col(),
                e.value(),
                label(inLabels, e.row()),
                label(cl, e.col())));
      }
    }
    this.rows = Collections.unmodifiableList(r);
  }

  private static String label(FeatureLabels l, int i) {
    return l == null ? "" : l.labelOrEmpty(i);
  }

  /** Every row, head by head, best first within a head. */
  public List<Row> rows() {
    return rows;
  }

  /** The per-head tables this was built from. */
  public List<CircuitTable> circuitTables() {
    return tables;
  }

  /** Number of rows. */
  public int size() {
    return rows.size();
  }

  /** Labels of the query (QK) and value (OV) side, or null. */
  public FeatureLabels rowLabels() {
    return inLabels;
  }

  /**
   * Labels of the column features of a circuit: key side for QK, output side for OV (may be null).
   */
  public FeatureLabels columnLabels(CircuitKind kind) {
    return kind == CircuitKind.QK ? keyLabels : outLabels;
  }

  /** Only the given circuit. */
  public FeatureTable circuit(CircuitKind kind) {
    return new FeatureTable(
        tables.stream().filter(t -> t.kind() == kind).toList(), inLabels, keyLabels, outLabels);
  }

  /** Only the given head(s). */
  public FeatureTable forHead(int... heads) {
    java.util.Set<Integer> keep = new java.util.HashSet<>();
    for (int h : heads) {
      keep.add(h);
    }
    return new FeatureTable(
        tables.stream().filter(t -> keep.contains(t.head())).toList(),
        inLabels,
        keyLabels,
        outLabels);
  }

  /** The first {@code n} rows of every head. */
  public FeatureTable head(int n) {
    return map(
        t ->
            new CircuitTable(
                t.kind(),
                t.layer(),
                t.head(),
                t.rankBy(),
                t.scale(),
                t.edges().subList(0, Math.min(n, t.edges().size())),
                t.variant()));
  }

  /** Bostock's "Distinct": self pairs (row feature = column feature) removed; ranks renumbered. */
  public FeatureTable distinct() {
    return map(CircuitTable::distinct);
  }

  /** Bostock's "Distinct Positive": distinct pairs with a positive value. */
  public FeatureTable distinctPositive() {
    return map(CircuitTable::distinctPositive);
  }

  /** Rows whose edge passes the predicate (ranks renumbered). */
  public FeatureTable filter(Predicate<FeatureEdge> keep) {
    return map(t -> t.filter(keep));
  }

  private FeatureTable map(java.util.function.UnaryOperator<CircuitTable> f) {
    return new FeatureTable(tables.stream().map(f).toList(), inLabels, keyLabels, outLabels);
  }

  /** A Tablesaw table with the CSV's columns (labels included). */
  public Table toTablesaw() {
    Table t = Table.create("feature table");
    StringColumn circuit = StringColumn.create("circuit");
    IntColumn layer = IntColumn.create("layer");
    StringColumn head = StringColumn.create("head");
    IntColumn rank = IntColumn.create("rank");
    IntColumn rowF = IntColumn.create(rowColumnName());
    IntColumn colF = IntColumn.create(colColumnName());
    DoubleColumn value = DoubleColumn.create("value");
    StringColumn rowL = StringColumn.create(rowColumnName().replace("feature", "label"));
    StringColumn colL = StringColumn.create(colColumnName().replace("feature", "label"));
    for (Row r : rows) {
      circuit.append(r.kind().id());
      layer.append(r.layer());
      head.append(r.headName());
      rank.append(r.rank());
      rowF.append(r.rowFeature());
      colF.append(r.colFeature());
      value.append(r.value());
      rowL.append(r.rowLabel());
      colL.append(r.colLabel());
    }
    return t.addColumns(circuit, layer, head, rank, rowF, colF, value, rowL, colL);
  }

  /**
   * Column name of the row feature: query_feature, value_feature, or row_feature for a mixed table.
   */
  public String rowColumnName() {
    CircuitKind k = singleKind();
    return k == null ? "row_feature" : k.rowColumn();
  }

  /**
   * Column name of the column feature: key_feature, output_feature, or col_feature for a mixed
   * table.
   */
  public String colColumnName() {
    CircuitKind k = singleKind();
    return k == null ? "col_feature" : k.colColumn();
  }

  /** The one circuit kind of every row, or null when mixed or empty. */
  public CircuitKind singleKind() {
    CircuitKind k = null;
    for (CircuitTable t : tables) {
      if (k != null && t.kind() != k) {
        return null;
      }
      k = t.kind();
    }
    return k;
  }

  /** Writes the CSV of {@code saelab tables} (one kind per file). */
  public void writeCsv(Path file) {
    CircuitKind k = singleKind();
    if (k == null) {
      throw new IllegalArgumentException(
          "writeCsv: the table mixes QK and OV; write circuit(QK) and circuit(OV)"
              + " to separate files");
    }
    TableWriter.csv(file, tables, inLabels, columnLabels(k));
  }

  /**
   * Writes J Bostock's CSV files of every head table into folder {@code dir}: {@code Table of QKs
   * for Head h.csv}, its {@code Distinct} and {@code Distinct Positive} filters, and {@code Table
   * of OVs for Head h.csv}, with labels.
   */
  public void writeBostock(Path dir) {
    for (CircuitTable t : tables) {
      TableWriter.bostock(dir, t, inLabels, columnLabels(t.kind()));
    }
  }

  /**
   * What the tables are beyond the plain product, e.g. "QK through q_norm/k_norm: q/k-normalised
   * (exact)" for Gemma 3 and Qwen3; "" otherwise.
   */
  public String note() {
    String qk =
        tables.stream()
            .map(CircuitTable::qkNormNote)
            .filter(n -> !n.isEmpty())
            .findFirst()
            .orElse("");
    return qk.isEmpty() ? extraNote : extraNote.isEmpty() ? qk : extraNote + "; " + qk;
  }

  /**
   * This table with {@code note} shown above it (e.g. what an attribution's terms add up to); the
   * rows are shared.
   */
  public FeatureTable withNote(String note) {
    FeatureTable t = new FeatureTable(tables, inLabels, keyLabels, outLabels);
    t.extraNote = note == null ? "" : note;
    return t;
  }

  /** A plain-text rendering: the first 20 rows per head. */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "FeatureTable: %d rows, %d head tables%s%n",
            rows.size(),
            tables.size(),
            note().isEmpty() ? "" : "; " + note()));
    int shown = 0;
    for (Row r : rows) {
      if (r.rank() > 20) {
        continue;
      }
      sb.append(
          String.format(
              Locale.ROOT,
              "%s %-6s %4d  %6d %-30.30s -> %6d %-30.30s %12.5g%n",
              r.kind().id(),
              r.headName(),
              r.rank(),
              r.rowFeature(),
              r.rowLabel(),
              r.colFeature(),
              r.colLabel(),
              r.value()));
      if (++shown >= 200) {
        sb.append("...\n");
        break;
      }
    }
    return sb.toString();
  }
}
