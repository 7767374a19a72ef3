package dev.saelab.cli;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.TypeConversionException;

/**
 * The one option schema: every command's options are annotated fields of its class, from which the
 * command line ({@code saelab NAME}), the magics ({@code %NAME}) and every help text are made. The
 * commands both share are the {@link #SHARED} ones; their magic returns what the Java API returns.
 */
public final class Schema {
  private Schema() {}

  /** The commands that are also magics, by name, in the order help lists them. */
  public static final Map<String, Supplier<CliCommand>> SHARED = new LinkedHashMap<>();

  static {
    SHARED.put("tables", TablesCommand.Both::new);
    SHARED.put("qk", TablesCommand.Qk::new);
    SHARED.put("ov", TablesCommand.Ov::new);
    SHARED.put("rope", RopeCommand::new);
    SHARED.put("svd", SvdCommand::new);
    SHARED.put("feature", FeatureCommand::new);
    SHARED.put("scatter", ScatterCommand::new);
    SHARED.put("inspect", InspectCommand::new);
    SHARED.put("run", RunCommand::new);
    SHARED.put("attention", AttentionCommand::new);
    SHARED.put("attribute", AttributeCommand::new);
    SHARED.put("validate", ValidateCommand::new);
  }

  /** The commands only the command line has. */
  static final Map<String, Supplier<CliCommand>> COMMAND_LINE_ONLY = new LinkedHashMap<>();

  static {
    COMMAND_LINE_ONLY.put("notebook", NotebookCommand::new);
    COMMAND_LINE_ONLY.put("kernel", KernelCommand::new);
    COMMAND_LINE_ONLY.put("bench", BenchCommand::new);
    COMMAND_LINE_ONLY.put("atlas", AtlasCommand::new);
    COMMAND_LINE_ONLY.put("atlas-merge", AtlasMergeCommand::new);
  }

  /**
   * A picocli command line for {@code command}, configured as every SAE Lab command is, named
   * {@code name}.
   */
  public static CommandLine commandLine(
      Object command, String name, PrintStream out, PrintStream err) {
    CommandLine cl = new CommandLine(command, new Factory(out, err));
    cl.setCommandName(name);
    cl.setAbbreviatedOptionsAllowed(false);
    cl.setAbbreviatedSubcommandsAllowed(false);
    cl.setCaseInsensitiveEnumValuesAllowed(false);
    cl.setUsageHelpWidth(110);
    cl.setUsageHelpLongOptionsMaxWidth(40);
    cl.setColorScheme(CommandLine.Help.defaultColorScheme(CommandLine.Help.Ansi.OFF));
    cl.setOut(new java.io.PrintWriter(out, true));
    cl.setErr(new java.io.PrintWriter(err, true));
    // examples are shown as written (not wrapped, not formatted), so that each can be copied and
    // run
    cl.getHelpSectionMap()
        .put(
            CommandLine.Model.UsageMessageSpec.SECTION_KEY_FOOTER,
            help -> String.join("\n", help.commandSpec().usageMessage().footer()) + "\n");
    return cl;
  }

  /** The usage text of a parsed command line. */
  public static String usage(CommandLine cl) {
    return cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
  }

  /**
   * One line for a parse error: {@code --screen int4: expected auto, int8 or fp32}, {@code unknown
   * option '--foo'}, {@code needs a value: --top}.
   */
  public static String message(ParameterException e) {
    Throwable cause = e.getCause();
    if (cause instanceof TypeConversionException && e.getArgSpec() instanceof OptionSpec o) {
      return o.longestName() + " " + e.getValue() + ": " + cause.getMessage();
    }
    if (cause instanceof TypeConversionException) {
      return e.getArgSpec().paramLabel() + " " + e.getValue() + ": " + cause.getMessage();
    }
    if (e instanceof CommandLine.UnmatchedArgumentException u) {
      List<String> unmatched = u.getUnmatched();
      String first = unmatched.isEmpty() ? "?" : unmatched.get(0);
      List<String> valid =
          e.getCommandLine().getCommandSpec().options().stream()
              .filter(o -> !o.usageHelp())
              .map(OptionSpec::longestName)
              .toList();
      return first.startsWith("-")
          ? "unknown option '" + first + "' (valid: " + String.join(" ", valid) + ")"
          : "unexpected argument '" + first + "' (see --help)";
    }
    return e.getMessage();
  }

  /** Creates subcommands with the command line's streams. */
  private record Factory(PrintStream out, PrintStream err) implements CommandLine.IFactory {
    @Override
    public <K> K create(Class<K> cls) throws Exception {
      K k = CommandLine.defaultFactory().create(cls);
      if (k instanceof CliCommand c) {
        c.io(out, err);
      }
      return k;
    }
  }
}
