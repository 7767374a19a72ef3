package dev.saelab.cli;

import java.io.PrintStream;
import picocli.CommandLine;

/**
 * What {@code saelab-atlas.jar} adds to the {@code saelab} command line: {@code saelab bench
 * atlas}. ({@code saelab atlas} itself is in the plain jar and finds the Spark engine through
 * {@link dev.saelab.atlas.AtlasEngine}.)
 */
public final class AtlasCommandLine implements CommandLineExtension {
  @Override
  public void extend(CommandLine top, PrintStream out, PrintStream err) {
    CommandLine bench = top.getSubcommands().get("bench");
    if (bench != null && !bench.getSubcommands().containsKey("atlas")) {
      bench.addSubcommand(
          "atlas", Schema.commandLine(new BenchAtlasCommand().io(out, err), "atlas", out, err));
    }
  }
}
