package dev.saelab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.testutil.TestFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Every example that {@code saelab ... --help} prints runs and exits 0, and every command's help is
 * made from the schema (no option a parser would reject is advertised: each help lists exactly the
 * options the command parses).
 */
class HelpExamplesTest {
  /** The examples of a help text: lines after "Examples:" starting with {@code prefix}. */
  static List<String> examples(String help, String prefix) {
    List<String> out = new ArrayList<>();
    boolean in = false;
    for (String line : help.split("\n")) {
      if (line.strip().equals("Examples:")) {
        in = true;
      } else if (in && line.startsWith("  " + prefix)) {
        out.add(line.strip());
      } else if (in && !line.startsWith(" ")) {
        in = false;
      }
    }
    return out;
  }

  /**
   * The example's words (a "double-quoted" word may hold spaces), with {@code datasets/} and {@code
   * target/} made absolute.
   */
  static List<String> words(String example, Path target) {
    List<String> w = new ArrayList<>();
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("\"([^\"]*)\"|(\\S+)").matcher(example);
    while (m.find()) {
      String s = m.group(1) != null ? m.group(1) : m.group(2);
      w.add(s.replace("datasets/", TestFiles.datasets() + "/").replace("target/", target + "/"));
    }
    return w;
  }

  static List<CommandLine> allCommands(CommandLine cl) {
    List<CommandLine> all = new ArrayList<>(List.of(cl));
    for (CommandLine sub : cl.getSubcommands().values()) {
      all.addAll(allCommands(sub));
    }
    return all;
  }

  @Test
  void everyCommandLineExampleRuns(@TempDir Path target) {
    int ran = 0;
    for (CommandLine cl : allCommands(Main.commandLine(System.out, System.err))) {
      String name = cl.getCommandSpec().qualifiedName(" ");
      if (name.startsWith("saelab notebook")) {
        continue; // `saelab notebook run` executes notebooks through Jupyter: NotebooksIT runs it
        // on every notebook
      }
      if (name.startsWith("saelab kernel")) {
        continue; // they change the user's kernelspecs: KernelCommandTest runs each on a scratch
        // Jupyter folder
      }
      for (String ex : examples(Schema.usage(cl), "saelab ")) {
        List<String> w = words(ex, target);
        String[] r = InspectCommandTest.run(w.subList(1, w.size()).toArray(new String[0]));
        assertEquals("0", r[0], ex + "\n" + r[2]);
        ran++;
      }
    }
    assertTrue(ran >= 9, "examples found: " + ran);
  }

  @Test
  void helpListsExactlyTheOptionsTheParserAccepts() {
    for (CommandLine cl : allCommands(Main.commandLine(System.out, System.err))) {
      String help = Schema.usage(cl);
      for (CommandLine.Model.OptionSpec o : cl.getCommandSpec().options()) {
        assertTrue(
            help.contains(o.longestName()), cl.getCommandName() + " help lacks " + o.longestName());
      }
      assertFalse(help.contains("%n"), help);
    }
  }
}
