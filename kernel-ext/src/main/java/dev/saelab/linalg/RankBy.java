package dev.saelab.linalg;

import java.util.Locale;

/** What "top" means in a table. */
public enum RankBy {
  /** Largest |value| first (the default; Bostock's tables). */
  ABS,
  /** Largest value first. */
  VALUE,
  /** Most negative value first. */
  NEG_VALUE;

  /** The ranking key of a value: larger is better. */
  public double key(double v) {
    switch (this) {
      case ABS:
        return Math.abs(v);
      case VALUE:
        return v;
      default:
        return -v;
    }
  }

  /** The ranking key of a float value (the hot-loop form of {@link #key(double)}). */
  public float key(float v) {
    return this == ABS ? Math.abs(v) : this == VALUE ? v : -v;
  }

  /** Parses {@code abs}, {@code value} or {@code -value}. */
  public static RankBy parse(String s) {
    switch (s.toLowerCase(Locale.ROOT)) {
      case "abs":
        return ABS;
      case "value":
        return VALUE;
      case "-value":
      case "neg-value":
        return NEG_VALUE;
      default:
        throw new IllegalArgumentException("ranking " + s + ": expected abs, value or -value");
    }
  }

  @Override
  public String toString() {
    return this == NEG_VALUE ? "-value" : name().toLowerCase(Locale.ROOT);
  }
}
