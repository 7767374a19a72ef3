package dev.saelab.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.circuits.CircuitSpec;
import dev.saelab.circuits.Rope;
import dev.saelab.linalg.RankBy;
import dev.saelab.linalg.Screen;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The library speaks its own words: an error raised below the front-ends names the quantity ("top-k
 * 0"), never a command-line flag ("--top 0") or a magic; the command line and the magics translate
 * to their flags.
 */
class DomainWordsTest {
  static String message(Executable call) {
    return assertThrows(IllegalArgumentException.class, call).getMessage();
  }

  @Test
  void specAndEnumErrorsNameTheQuantity() {
    assertEquals(
        "top-k 0: expected a positive number of entries",
        message(() -> CircuitSpec.defaults().withTopK(0)));
    assertEquals(
        "position Δ -1: expected a distance ≥ 0 (query after key)",
        message(() -> CircuitSpec.defaults().withPosition(-1, Rope.Pairing.ROTATE_HALF)));
    assertEquals(
        "ranking biggest: expected abs, value or -value", message(() -> RankBy.parse("biggest")));
    assertEquals(
        "tile screen int4: expected auto, int8 or fp32", message(() -> Screen.parse("int4")));
    assertEquals(
        "RoPE pairing diagonal: expected rotate-half or interleaved",
        message(() -> Rope.Pairing.parse("diagonal")));
  }

  /**
   * A string literal in a library package holding a flag ({@code "--top "}, {@code "(--layer L"})
   * or a magic.
   */
  private static final Pattern FLAG_IN_LITERAL =
      Pattern.compile(
          "\"[^\"\\n]*((?<![A-Za-z0-9-])--[a-z]|"
              + "%(model|sae|labels|qk|ov|rope|svd|feature|scatter|plot|saelab)\\b)[^\"\\n]*\"");

  @Test
  void noLibraryStringLiteralNamesAFlag() throws IOException {
    Path main = Path.of("src/main/java/dev/saelab");
    List<String> found = new ArrayList<>();
    try (Stream<Path> files = Files.walk(main)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        String pkg = main.relativize(f).getName(0).toString();
        if (pkg.equals("cli") || pkg.equals("magic") || pkg.equals("kernel")) {
          continue; // the front-ends own their flags
        }
        List<String> lines = Files.readAllLines(f);
        for (int i = 0; i < lines.size(); i++) {
          String line = lines.get(i).strip();
          if (line.startsWith("*") || line.startsWith("/")) {
            continue; // comments may show a command
          }
          Matcher m = FLAG_IN_LITERAL.matcher(line);
          if (m.find()) {
            found.add(main.relativize(f) + ":" + (i + 1) + ": " + m.group());
          }
        }
      }
    }
    assertTrue(found.isEmpty(), "flag words in library messages:\n" + String.join("\n", found));
  }
}
