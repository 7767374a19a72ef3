package dev.saelab.circuits;

import dev.saelab.io.AtomicFiles;
import dev.saelab.io.SaeLabException;
import dev.saelab.labels.Explanation;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.linalg.FeatureEdge;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes circuit tables as CSV: SAE Lab's own schema, or J Bostock's (so his notebooks can read
 * ours). Files are written to a temporary name and moved into place, so a failed run never leaves a
 * half-written table.
 */
public final class TableWriter {
  private TableWriter() {}

  /**
   * SAE Lab's CSV: {@code circuit,layer,head,rank,query_feature,key_feature,value} (QK) or {@code
   * ...,value_feature,output_feature,value} (OV), then label columns when labels are given.
   *
   * @param rowLabels labels of the row features (query / value side), or null
   * @param colLabels labels of the column features (key / output side), or null
   */
  public static void csv(
      Path file, List<CircuitTable> tables, FeatureLabels rowLabels, FeatureLabels colLabels) {
    if (tables.isEmpty()) {
      throw new IllegalArgumentException("no tables to write to " + file);
    }
    CircuitKind kind = tables.get(0).kind();
    StringBuilder sb = new StringBuilder();
    sb.append("circuit,layer,head,rank,")
        .append(kind.rowColumn())
        .append(',')
        .append(kind.colColumn())
        .append(",value");
    // QK tables of a model with q/k norms say how they passed them (exact or proxy)
    boolean variant = tables.stream().anyMatch(t -> !t.variant().isEmpty());
    if (variant) {
      sb.append(",qk_norm");
    }
    labelHeader(sb, kind, rowLabels, colLabels);
    for (CircuitTable t : tables) {
      if (t.kind() != kind) {
        throw new IllegalArgumentException(
            "one CSV holds one circuit; got " + kind + " and " + t.kind());
      }
      int rank = 1;
      for (FeatureEdge e : t.edges()) {
        sb.append(kind.id())
            .append(',')
            .append(t.layer())
            .append(',')
            .append(t.head())
            .append(',')
            .append(rank++)
            .append(',')
            .append(e.row())
            .append(',')
            .append(e.col())
            .append(',')
            .append(e.value());
        if (variant) {
          sb.append(',').append(t.variant());
        }
        labelCells(sb, e.row(), e.col(), rowLabels, colLabels);
      }
    }
    write(file, sb);
  }

  /**
   * Bostock's files for one head: {@code Table of QKs for Head h.csv} ({@code ,QK Circuit Value,Key
   * Feature,Query Feature}), the "Distinct" and "Distinct Positive" variants filtered from the same
   * list, and {@code Table of OVs for Head h.csv} ({@code ,OV Circuit Value,Value Feature,Output
   * Feature}); features as {@code "index: label"} with the label exactly as exported.
   */
  public static void bostock(
      Path dir, CircuitTable t, FeatureLabels rowLabels, FeatureLabels colLabels) {
    if (t.kind() == CircuitKind.QK) {
      bostockOne(
          dir.resolve("Table of QKs for Head " + t.head() + ".csv"), t, rowLabels, colLabels);
      bostockOne(
          dir.resolve("Table of Distinct QKs for Head " + t.head() + ".csv"),
          t.distinct(),
          rowLabels,
          colLabels);
      bostockOne(
          dir.resolve("Table of Distinct Positive QKs for Head " + t.head() + ".csv"),
          t.distinctPositive(),
          rowLabels,
          colLabels);
    } else {
      bostockOne(
          dir.resolve("Table of OVs for Head " + t.head() + ".csv"), t, rowLabels, colLabels);
    }
  }

  private static void bostockOne(
      Path file, CircuitTable t, FeatureLabels rowLabels, FeatureLabels colLabels) {
    StringBuilder sb = new StringBuilder();
    boolean qk = t.kind() == CircuitKind.QK;
    sb.append(
        qk
            ? ",QK Circuit Value,Key Feature,Query Feature\n"
            : ",OV Circuit Value,Value Feature,Output Feature\n");
    int i = 0;
    for (FeatureEdge e : t.edges()) {
      String rowCell = cell(e.row(), rowLabels);
      String colCell = cell(e.col(), colLabels);
      // QK: key (column) before query (row); OV: value (row) before output (column)
      sb.append(i++)
          .append(',')
          .append(e.value())
          .append(',')
          .append(quote(qk ? colCell : rowCell))
          .append(',')
          .append(quote(qk ? rowCell : colCell))
          .append('\n');
    }
    write(file, sb);
  }

  private static String cell(int index, FeatureLabels labels) {
    String raw =
        labels == null ? "" : labels.explanation(index).map(Explanation::rawDescription).orElse("");
    return index + ": " + raw;
  }

  /**
   * A layer's summed circuit: {@code
   * circuit,layer,head,rank,query_feature,key_feature,value,head_spread, weak_in_every_head} with
   * {@code head} = {@code sum}, then {@code head_0 … head_{n-1}} (each head's part of the sum) when
   * {@code breakdown}, then label columns when labels are given.
   */
  public static void layerCsv(
      Path file,
      List<LayerTable> tables,
      boolean breakdown,
      FeatureLabels rowLabels,
      FeatureLabels colLabels) {
    if (tables.isEmpty()) {
      throw new IllegalArgumentException("no tables to write to " + file);
    }
    CircuitKind kind = tables.get(0).kind();
    StringBuilder sb = new StringBuilder();
    sb.append("circuit,layer,head,rank,")
        .append(kind.rowColumn())
        .append(',')
        .append(kind.colColumn())
        .append(",value,head_spread,weak_in_every_head");
    if (breakdown) {
      for (int h = 0; h < tables.get(0).nHeads(); h++) {
        sb.append(",head_").append(h);
      }
    }
    labelHeader(sb, kind, rowLabels, colLabels);
    for (LayerTable t : tables) {
      int rank = 1;
      for (LayerTable.Edge e : t.edges()) {
        sb.append(kind.id())
            .append(',')
            .append(t.layer())
            .append(",sum,")
            .append(rank++)
            .append(',')
            .append(e.row())
            .append(',')
            .append(e.col())
            .append(',')
            .append((float) e.value())
            .append(',')
            .append(e.headSpread(LayerTable.SPREAD_SHARE))
            .append(',')
            .append(t.weakInEveryHead(e));
        if (breakdown) {
          for (double v : e.perHead()) {
            sb.append(',').append((float) v);
          }
        }
        labelCells(sb, e.row(), e.col(), rowLabels, colLabels);
      }
    }
    write(file, sb);
  }

  /**
   * {@code ,query_label,key_label} (or value/output) for the label sources given, then the line
   * end.
   */
  private static void labelHeader(
      StringBuilder sb, CircuitKind kind, FeatureLabels rowLabels, FeatureLabels colLabels) {
    if (rowLabels != null) {
      sb.append(',').append(kind.rowColumn().replace("_feature", "")).append("_label");
    }
    if (colLabels != null) {
      sb.append(',').append(kind.colColumn().replace("_feature", "")).append("_label");
    }
    sb.append('\n');
  }

  /** The label cells of one row for the label sources given, then the line end. */
  private static void labelCells(
      StringBuilder sb, int row, int col, FeatureLabels rowLabels, FeatureLabels colLabels) {
    if (rowLabels != null) {
      sb.append(',').append(quote(rowLabels.labelOrEmpty(row)));
    }
    if (colLabels != null) {
      sb.append(',').append(quote(colLabels.labelOrEmpty(col)));
    }
    sb.append('\n');
  }

  /** RFC 4180 quoting, as pandas writes it. */
  public static String quote(String s) {
    if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
      return s;
    }
    return '"' + s.replace("\"", "\"\"") + '"';
  }

  /**
   * Writes {@code text} to {@code file} through a temporary file, so readers never see half a file;
   * the file gets the permissions a plain write would give it ({@link AtomicFiles}).
   */
  public static void write(Path file, CharSequence text) {
    try {
      AtomicFiles.write(
          file,
          out -> {
            Writer w = new OutputStreamWriter(out, StandardCharsets.UTF_8);
            w.append(text);
            w.flush();
          });
    } catch (IOException e) {
      throw SaeLabException.inFile(file, "cannot write: " + e.getMessage());
    }
  }
}
