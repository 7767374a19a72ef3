package dev.saelab.cli;

import java.nio.file.Path;
import java.util.List;

/** Lets the magic tests reuse the example parsing of {@link HelpExamplesTest}. */
public final class HelpExamplesTestAccess {
  private HelpExamplesTestAccess() {}

  public static List<String> examples(String help, String prefix) {
    return HelpExamplesTest.examples(help, prefix);
  }

  public static List<String> words(String example, Path target) {
    return HelpExamplesTest.words(example, target);
  }
}
