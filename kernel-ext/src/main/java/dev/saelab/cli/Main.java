package dev.saelab.cli;

import dev.saelab.io.SaeLabException;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The {@code saelab} command line: {@code java -jar kernel-ext/target/saelab.jar <command>
 * [options]}. Bad input exits with code 2 and one line naming what is wrong; an interrupt exits
 * 130; an internal error 1.
 */
public final class Main {
  private Main() {}

  /** The top-level command: only its subcommands run. */
  @Command(
      name = "saelab",
      description =
          "SAE Lab: attention circuits between sparse-autoencoder features, read"
              + " straight from the weights.",
      footer = {
        "",
        "Each command answers --help; the same commands run in a notebook as"
            + " magics (%qk, %rope, ...)."
      })
  static final class Top {
    @CommandLine.Mixin HelpOption help;
  }

  /** Entry point. */
  public static void main(String[] args) {
    if (args.length > 0
        && List.of("tables", "qk", "ov", "bench").contains(args[0])
        && ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()
        && System.getProperty("saelab.relaunched") == null) {
      System.exit(relaunchWithVectorApi(args));
    }
    int code = run(args, System.out, System.err);
    System.out.flush();
    System.exit(code);
  }

  /** The whole command line with its subcommands, writing to {@code out} and {@code err}. */
  public static CommandLine commandLine(PrintStream out, PrintStream err) {
    CommandLine cl = Schema.commandLine(new Top(), "saelab", out, err);
    for (Map<String, Supplier<CliCommand>> group :
        List.of(Schema.SHARED, Schema.COMMAND_LINE_ONLY)) {
      for (Map.Entry<String, Supplier<CliCommand>> e : group.entrySet()) {
        cl.addSubcommand(
            e.getKey(), Schema.commandLine(e.getValue().get().io(out, err), e.getKey(), out, err));
      }
    }
    for (CommandLineExtension x : java.util.ServiceLoader.load(CommandLineExtension.class)) {
      x.extend(cl, out, err);
    }
    return cl;
  }

  /**
   * Runs a command; returns the exit code (0 ok, 2 bad input, 130 interrupted, 1 internal error).
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    CommandLine top = commandLine(out, err);
    String name = args.length == 0 ? "" : args[0];
    try {
      ParseResult pr = top.parseArgs(args);
      CommandLine leaf = top;
      while (pr.hasSubcommand()) {
        pr = pr.subcommand();
        leaf = pr.commandSpec().commandLine();
      }
      name = leaf.getCommandSpec().qualifiedName(" ").replaceFirst("^saelab ", "");
      if (leaf.isUsageHelpRequested()) {
        out.print(Schema.usage(leaf));
        return 0;
      }
      if (leaf == top) {
        out.print(Schema.usage(top));
        return args.length == 0 ? 2 : 0;
      }
      return ((CliCommand) leaf.getCommand()).call();
    } catch (ParameterException e) {
      String where =
          e.getCommandLine() == top
              ? ""
              : e.getCommandLine().getCommandSpec().qualifiedName(" ").replaceFirst("^saelab ", "")
                  + ": ";
      err.println("saelab " + where + Schema.message(e));
      return 2;
    } catch (SaeLabException
        | IllegalArgumentException
        | java.io.IOException
        | java.io.UncheckedIOException e) {
      err.println("saelab " + name + ": " + e.getMessage());
      return 2;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      err.println("saelab " + name + ": interrupted");
      return 130;
    } catch (CancellationException e) {
      err.println("saelab " + name + ": interrupted");
      return 130;
    } catch (IllegalStateException e) {
      err.println("saelab " + name + ": " + e.getMessage());
      return 1;
    } catch (OutOfMemoryError e) {
      err.println(
          "saelab "
              + name
              + ": out of memory ("
              + e.getMessage()
              + "); raise -Xmx or use fewer features");
      return 1;
    } catch (Exception e) {
      err.println("saelab " + name + ": internal error: " + e);
      return 1;
    }
  }

  /**
   * The top-k scan uses the JDK Vector API, an incubator module on Java 17 that {@code java -jar}
   * does not resolve; rerun this JVM's command with {@code --add-modules jdk.incubator.vector},
   * same options and arguments.
   */
  private static int relaunchWithVectorApi(String[] args) {
    List<String> cmd = new java.util.ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("--add-modules=jdk.incubator.vector");
    cmd.add("-Dsaelab.relaunched=true");
    cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(cmd).inheritIO().start();
      Runtime.getRuntime().addShutdownHook(new Thread(p::destroy));
      return p.waitFor();
    } catch (java.io.IOException | InterruptedException e) {
      return run(args, System.out, System.err); // scalar scan still works
    }
  }
}
