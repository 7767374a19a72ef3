package dev.saelab.atlas;

import dev.saelab.circuits.TableWriter;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The rows of one output partition of an atlas, as column names, types and values: what the CSV
 * writer ({@link AtlasWriter}) and a Parquet writer both write. {@code table} is the dataset
 * ({@code table}, {@code partners}, {@code summary}, {@code spectra}); {@code partition} its
 * Hive-style keys in folder order (e.g. {@code layer=1/head=3/circuit=qk}). The partition keys are
 * also columns of the rows (the CSV keeps the columns of {@code saelab tables}); a writer that
 * stores them in folder names only may drop {@link #partitionColumns}.
 *
 * @param table the dataset
 * @param partition partition key → value, in folder order
 * @param columns column names
 * @param types column types
 * @param rows the rows, each with one value per column ({@link Integer}, {@link Float}, {@link
 *     Double}, {@link String} or {@link Boolean})
 */
public record AtlasRows(
    String table,
    LinkedHashMap<String, String> partition,
    List<String> columns,
    List<Type> types,
    List<Object[]> rows)
    implements Serializable {

  private static final long serialVersionUID = 1L;

  /** A column's type. */
  public enum Type {
    /** 32-bit integer ({@link Integer}). */
    INT,
    /** 32-bit float ({@link Float}). */
    FLOAT,
    /** 64-bit float ({@link Double}). */
    DOUBLE,
    /** UTF-8 text ({@link String}). */
    STRING,
    /** {@link Boolean}. */
    BOOLEAN
  }

  /** The partition's folder under the atlas folder: {@code table/layer=1/head=3/circuit=qk}. */
  public String dir() {
    StringBuilder sb = new StringBuilder(table);
    for (Map.Entry<String, String> e : partition.entrySet()) {
      sb.append('/').append(e.getKey()).append('=').append(e.getValue());
    }
    return sb.toString();
  }

  /** The partition keys (also columns). */
  public List<String> partitionColumns() {
    return new ArrayList<>(partition.keySet());
  }

  /** The rows as CSV: a header line, then one line per row (RFC 4180 quoting for text). */
  public String csv() {
    StringBuilder sb = new StringBuilder(64 + rows.size() * 48);
    sb.append(String.join(",", columns)).append('\n');
    for (Object[] r : rows) {
      for (int c = 0; c < r.length; c++) {
        if (c > 0) {
          sb.append(',');
        }
        Object v = r[c];
        if (v instanceof String s) {
          sb.append(TableWriter.quote(s));
        } else {
          sb.append(v); // Float/Double print as Java does, as the tables CSV does
        }
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    return dir() + " (" + rows.size() + " rows)";
  }
}
