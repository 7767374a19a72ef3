package dev.saelab.magic;

import dev.saelab.cli.Converters;
import dev.saelab.cli.HelpOption;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code %plot}: plots of the session's last table and of the current layer's circuits. */
@Command(
    name = "plot",
    description =
        "Plots: top (|value| by rank per head of the last table), block (heat map of a block of one"
            + " head's circuit), norms (per feature |query| against |key| of one head); returns"
            + " Plot.",
    footer = {
      "",
      "Examples:",
      "  %plot top",
      "  %plot block qk --head 1 --rows 12:22 --cols 37:47",
      "  %plot norms --head 1"
    })
final class PlotMagic {
  @Mixin HelpOption help;

  @Parameters(index = "0", paramLabel = "top|block|norms", description = "which plot")
  String what;

  @Parameters(index = "1", arity = "0..1", paramLabel = "qk|ov", description = "block: the circuit")
  String circuit;

  @Option(
      names = "--head",
      paramLabel = "H",
      converter = Converters.NonNegativeConverter.class,
      description = "block, norms: the head")
  Integer head;

  @Option(
      names = "--rows",
      paramLabel = "a:b|i,j",
      defaultValue = "0:16",
      converter = Converters.RangeConverter.class,
      description = "block: row features (default ${DEFAULT-VALUE})")
  Converters.Ints rows;

  @Option(
      names = "--cols",
      paramLabel = "a:b|i,j",
      defaultValue = "0:16",
      converter = Converters.RangeConverter.class,
      description = "block: column features (default ${DEFAULT-VALUE})")
  Converters.Ints cols;
}
