package dev.saelab.magic;

import dev.saelab.cli.HelpOption;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code %saelab}: help, status, reset. */
@Command(
    name = "saelab",
    description =
        "help: every magic with its options and examples; status: what is loaded;"
            + " reset: forget it. %%saelab NAME ... runs the magic %%NAME.",
    footer = {"", "Examples:", "  %saelab status"})
final class SaelabMagic {
  @Mixin HelpOption help;

  @Parameters(arity = "0..*", paramLabel = "help|status|reset|NAME ...", description = "what to do")
  java.util.List<String> words = new java.util.ArrayList<>();
}
