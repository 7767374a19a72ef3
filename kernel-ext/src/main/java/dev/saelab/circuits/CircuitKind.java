package dev.saelab.circuits;

/** The two circuits of an attention head. */
public enum CircuitKind {
  /** Query feature i (destination) attends to key feature j (source). */
  QK("query_feature", "key_feature"),
  /** Value feature i (source) writes output feature j (destination). */
  OV("value_feature", "output_feature");

  private final String rowName;
  private final String colName;

  CircuitKind(String rowName, String colName) {
    this.rowName = rowName;
    this.colName = colName;
  }

  /** CSV column of the row feature: {@code query_feature} or {@code value_feature}. */
  public String rowColumn() {
    return rowName;
  }

  /** CSV column of the column feature: {@code key_feature} or {@code output_feature}. */
  public String colColumn() {
    return colName;
  }

  /** Parses {@code qk} or {@code ov} (any case). */
  public static CircuitKind parse(String s) {
    return switch (s.strip().toLowerCase(java.util.Locale.ROOT)) {
      case "qk" -> QK;
      case "ov" -> OV;
      default -> throw new IllegalArgumentException("circuit " + s + ": expected qk or ov");
    };
  }

  /** {@code qk} or {@code ov}. */
  public String id() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
