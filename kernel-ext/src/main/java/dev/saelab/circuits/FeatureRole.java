package dev.saelab.circuits;

import dev.saelab.linalg.FeatureEdge;

/** The role a feature plays in a drill-down: query, key, value or output. */
public enum FeatureRole {
  /** As the query (QK row): which keys it attends to. */
  QUERY,
  /** As the key (QK column): which queries attend to it. */
  KEY,
  /** As the value (OV row): which output features it writes. */
  VALUE,
  /** As the output (OV column, an output-SAE feature): which values write it. */
  OUTPUT;

  /** Parses {@code query}, {@code key}, {@code value} or {@code output}. */
  public static FeatureRole parse(String s) {
    try {
      return valueOf(s.toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("role " + s + ": expected query, key, value or output");
    }
  }

  /** {@code query}, {@code key}, {@code value} or {@code output}. */
  public String id() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * Whether the feature is the row of its circuit (query, value) rather than the column (key,
   * output).
   */
  public boolean isRow() {
    return this == QUERY || this == VALUE;
  }

  /** The other feature of an edge this role's feature is part of. */
  public int partner(FeatureEdge e) {
    return isRow() ? e.col() : e.row();
  }

  /** The circuit this role belongs to. */
  public CircuitKind kind() {
    return this == QUERY || this == KEY ? CircuitKind.QK : CircuitKind.OV;
  }
}
