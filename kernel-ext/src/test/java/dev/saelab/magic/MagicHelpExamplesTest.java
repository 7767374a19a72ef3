package dev.saelab.magic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.cli.Schema;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every example {@code %saelab help} prints runs: each magic's examples in a fresh session that
 * first ran the loading magics' own examples and the {@code %qk} examples (so {@code %plot top} has
 * a table). A magic is the command without {@code saelab}: the shared commands' examples are the
 * command line's, with {@code %NAME}.
 */
class MagicHelpExamplesTest {
  /**
   * The examples of magic {@code name} ({@code %saelab help} lists every magic's: keep only its
   * own).
   */
  static List<String> examples(String name) {
    return dev.saelab.cli.HelpExamplesTestAccess.examples(SaeLabMagics.help(name), "%").stream()
        .filter(e -> e.equals("%" + name) || e.startsWith("%" + name + " "))
        .toList();
  }

  static Object run(SaeLabMagics m, String example, Path target) {
    List<String> w = dev.saelab.cli.HelpExamplesTestAccess.words(example, target);
    return m.eval(w.get(0).substring(1), w.subList(1, w.size()));
  }

  @Test
  void everyMagicExampleRuns(@TempDir Path target) {
    int ran = 0;
    for (String name : SaeLabMagics.NAMES) {
      SaeLabMagics m = new SaeLabMagics(w -> {});
      for (String pre : List.of("model", "sae", "labels", "qk")) {
        for (String ex : examples(pre)) {
          run(m, ex, target);
        }
      }
      for (String ex : examples(name)) {
        assertNotNull(run(m, ex, target), ex);
        ran++;
      }
    }
    assertTrue(ran >= 14, "examples found: " + ran);
  }

  @Test
  void sharedCommandsHaveTheCommandLinesOptionsAndExamples() {
    for (String name : Schema.SHARED.keySet()) {
      String magic = SaeLabMagics.help(name);
      assertTrue(magic.startsWith("Usage: %" + name), magic);
      String cli =
          dev.saelab.cli.Main.run(
                      new String[] {name, "--help"},
                      new java.io.PrintStream(java.io.OutputStream.nullOutputStream()),
                      System.err)
                  == 0
              ? cliHelp(name)
              : "";
      assertEquals(body(cli).replace("  saelab " + name, "  %" + name), body(magic), name);
    }
  }

  /** The help without its synopsis (whose wrapping depends on the name's length). */
  private static String body(String help) {
    String[] lines = help.split("\n");
    int i = 1;
    while (i < lines.length && lines[i].startsWith(" ")) {
      i++;
    }
    return String.join("\n", java.util.Arrays.copyOfRange(lines, i, lines.length));
  }

  private static String cliHelp(String name) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    dev.saelab.cli.Main.run(
        new String[] {name, "--help"},
        new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8),
        System.err);
    return out.toString(java.nio.charset.StandardCharsets.UTF_8);
  }

  @Test
  void helpListsEveryMagicWithExamples() {
    String all = SaeLabMagics.help("saelab");
    List<String> missing = new ArrayList<>();
    for (String name : SaeLabMagics.NAMES) {
      if (!all.contains("Usage: %" + name)) {
        missing.add(name);
      }
    }
    assertEquals(List.of(), missing);
  }
}
