package dev.saelab.cli;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.QkNorm;
import dev.saelab.circuits.Rope;
import dev.saelab.linalg.RankBy;
import dev.saelab.linalg.Screen;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import java.util.function.Function;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The option value types of the schema, each checked in one place. A converter's message says what
 * was expected; {@link Schema#message} prefixes the option and the value ({@code --screen int4:
 * expected auto, int8 or fp32}).
 */
public final class Converters {
  private Converters() {}

  /** Runs a domain parser; its message from "expected" on becomes the conversion error. */
  static <T> T domain(String s, Function<String, T> parse) {
    try {
      return parse.apply(s);
    } catch (IllegalArgumentException e) {
      String m = String.valueOf(e.getMessage());
      int at = m.indexOf("expected");
      throw new TypeConversionException(at >= 0 ? m.substring(at) : m);
    }
  }

  static int integer(String s, String what) {
    try {
      return Integer.parseInt(s.strip());
    } catch (NumberFormatException e) {
      throw new TypeConversionException("expected " + what);
    }
  }

  /** {@code abs}, {@code value} or {@code -value}. */
  public static final class RankByConverter implements ITypeConverter<RankBy> {
    @Override
    public RankBy convert(String s) {
      return domain(s, RankBy::parse);
    }
  }

  /** {@code auto}, {@code int8} or {@code fp32}. */
  public static final class ScreenConverter implements ITypeConverter<Screen> {
    @Override
    public Screen convert(String s) {
      return domain(s, Screen::parse);
    }
  }

  /** {@code exact} or {@code proxy}. */
  public static final class QkNormConverter implements ITypeConverter<QkNorm> {
    @Override
    public QkNorm convert(String s) {
      return domain(s, QkNorm::parse);
    }
  }

  /** {@code rotate-half} or {@code interleaved}. */
  public static final class PairingConverter implements ITypeConverter<Rope.Pairing> {
    @Override
    public Rope.Pairing convert(String s) {
      return domain(s, Rope.Pairing::parse);
    }
  }

  /** The value of {@code --scale}: raw values, or QK values × the model's query scale. */
  public enum Scale {
    /** As computed. */
    RAW,
    /** × 1/√d_head (Gemma: query_pre_attn_scalar^-½). */
    QUERY
  }

  /** {@code raw} or {@code query}. */
  public static final class ScaleConverter implements ITypeConverter<Scale> {
    @Override
    public Scale convert(String s) {
      return switch (s) {
        case "raw" -> Scale.RAW;
        case "query" -> Scale.QUERY;
        default -> throw new TypeConversionException("expected raw or query");
      };
    }
  }

  /** {@code qk}, {@code ov} or {@code both}. */
  public static final class CircuitsConverter implements ITypeConverter<Set<CircuitKind>> {
    @Override
    public Set<CircuitKind> convert(String s) {
      return switch (s) {
        case "qk" -> EnumSet.of(CircuitKind.QK);
        case "ov" -> EnumSet.of(CircuitKind.OV);
        case "both" -> EnumSet.allOf(CircuitKind.class);
        default -> throw new TypeConversionException("expected qk, ov or both");
      };
    }
  }

  /** {@code all}, {@code sum} or a list of query heads like {@code 0,3,5}. */
  public static final class HeadsConverter implements ITypeConverter<Heads> {
    @Override
    public Heads convert(String s) {
      return Heads.parse(s);
    }
  }

  /**
   * A list of whole numbers as one option value (picocli converts array-typed fields element by
   * element).
   *
   * @param values the numbers, or null for the option's symbolic default (e.g. {@code --deltas
   *     log})
   */
  public record Ints(int[] values) {}

  /**
   * Query:key feature pairs as one option value.
   *
   * @param pairs {query, key} per pair
   */
  public record Pairs(int[][] pairs) {}

  /** Query:key feature pairs, {@code 17:42,5:5}. */
  public static final class PairsConverter implements ITypeConverter<Pairs> {
    @Override
    public Pairs convert(String s) {
      try {
        return new Pairs(
            Arrays.stream(s.split(","))
                .map(String::strip)
                .map(
                    p -> {
                      String[] qk = p.split(":");
                      if (qk.length != 2) {
                        throw new NumberFormatException(p);
                      }
                      return new int[] {
                        Integer.parseInt(qk[0].strip()), Integer.parseInt(qk[1].strip())
                      };
                    })
                .toArray(int[][]::new));
      } catch (NumberFormatException e) {
        throw new TypeConversionException("expected QUERY:KEY feature pairs like 17:42,5:5");
      }
    }
  }

  /** {@code log} (null: log-spaced up to the context) or a list of distances {@code 0,1,2,8}. */
  public static final class DeltasConverter implements ITypeConverter<Ints> {
    @Override
    public Ints convert(String s) {
      if (s.equals("log")) {
        return new Ints(null);
      }
      int[] d;
      try {
        d = Arrays.stream(s.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
      } catch (NumberFormatException e) {
        throw new TypeConversionException("expected log or a list like 0,1,2,8");
      }
      if (Arrays.stream(d).anyMatch(x -> x < 0)) {
        throw new TypeConversionException("distances must be ≥ 0");
      }
      return new Ints(d);
    }
  }

  /** Feature indices: {@code a:b} (half-open, at most 256) or a list {@code 1,5,9}. */
  public static final class RangeConverter implements ITypeConverter<Ints> {
    @Override
    public Ints convert(String s) {
      return new Ints(range(s));
    }

    private static int[] range(String s) {
      try {
        if (s.contains(":")) {
          String[] p = s.split(":", -1);
          int a = Integer.parseInt(p[0].strip());
          int b = Integer.parseInt(p[1].strip());
          if (b <= a || b - a > 256) {
            throw new TypeConversionException("expected a:b with a < b and at most 256 features");
          }
          return java.util.stream.IntStream.range(a, b).toArray();
        }
        return Arrays.stream(s.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
      } catch (NumberFormatException e) {
        throw new TypeConversionException("expected a:b or a list like 1,5,9");
      }
    }
  }

  /** A whole number ≥ 1. */
  public static final class PositiveConverter implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String s) {
      int v = integer(s, "an integer");
      if (v < 1) {
        throw new TypeConversionException("expected an integer ≥ 1");
      }
      return v;
    }
  }

  /** A whole number ≥ 0. */
  public static final class NonNegativeConverter implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String s) {
      int v = integer(s, "an integer");
      if (v < 0) {
        throw new TypeConversionException("expected an integer ≥ 0");
      }
      return v;
    }
  }

  /** Token ids, {@code 2,17,5}: whole numbers ≥ 0, at least one. */
  public static final class TokenIdsConverter implements ITypeConverter<Ints> {
    @Override
    public Ints convert(String s) {
      if (s.isBlank()) {
        throw new TypeConversionException("expected token ids like 2,17,5 (the list is empty)");
      }
      int[] ids;
      try {
        ids =
            Arrays.stream(s.split(",", -1))
                .map(String::strip)
                .mapToInt(Integer::parseInt)
                .toArray();
      } catch (NumberFormatException e) {
        throw new TypeConversionException("expected token ids like 2,17,5");
      }
      if (Arrays.stream(ids).anyMatch(x -> x < 0)) {
        throw new TypeConversionException("token ids must be ≥ 0");
      }
      return new Ints(ids);
    }
  }
}
