package dev.saelab.cli;

import dev.saelab.io.SaeLabException;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;

/**
 * The {@code saelab} command line: {@code java -jar kernel-ext/target/saelab.jar <command> [args]}.
 * Bad input exits with code 2 and one line naming what is wrong.
 */
public final class Main {
  private Main() {}

  /** Entry point. */
  public static void main(String[] args) {
    if (args.length > 0 && (args[0].equals("tables") || args[0].equals("bench"))
        && ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()
        && System.getProperty("saelab.relaunched") == null) {
      System.exit(relaunchWithVectorApi(args));
    }
    int code = run(args, System.out, System.err);
    System.out.flush();
    System.exit(code);
  }

  /** Runs a command; returns the exit code (0 ok, 2 bad input, 1 internal error). */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length == 0 || List.of("-h", "--help", "help").contains(args[0])) {
      out.print(usage());
      return args.length == 0 ? 2 : 0;
    }
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    try {
      switch (args[0]) {
        case "inspect":
          return new InspectCommand(out).run(rest);
        case "tables":
          return new TablesCommand(out, err).run(rest);
        case "bench":
          return new BenchCommand(out, err).run(rest);
        case "notebook":
          return new NotebookCommand(out, err).run(rest);
        case "rope-profile":
          return new RopeProfileCommand(out).run(rest);
        case "svd":
          return new SvdCommand(out).run(rest);
        case "feature":
          return new FeatureCommand(out).run(rest);
        case "qkov-scatter":
          return new ScatterCommand(out).run(rest);
        default:
          err.println("saelab: unknown command '" + args[0] + "' (expected inspect, tables, rope-profile, svd, feature, qkov-scatter, bench,"
              + " notebook; try --help)");
          return 2;
      }
    } catch (SaeLabException | IllegalArgumentException e) {
      err.println("saelab " + args[0] + ": " + e.getMessage());
      return 2;
    } catch (java.io.IOException | java.io.UncheckedIOException e) {
      err.println("saelab " + args[0] + ": " + e.getMessage());
      return 2;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      err.println("saelab " + args[0] + ": interrupted");
      return 130;
    } catch (java.util.concurrent.CancellationException e) {
      err.println("saelab " + args[0] + ": interrupted");
      return 130;
    } catch (IllegalStateException e) {
      err.println("saelab " + args[0] + ": " + e.getMessage());
      return 1;
    } catch (OutOfMemoryError e) {
      err.println("saelab " + args[0] + ": out of memory (" + e.getMessage() + "); raise -Xmx or use fewer features");
      return 1;
    } catch (RuntimeException e) {
      err.println("saelab " + args[0] + ": internal error: " + e);
      return 1;
    }
  }

  /**
   * The top-k scan uses the JDK Vector API, an incubator module on Java 17 that {@code java -jar} does not
   * resolve; rerun this JVM's command with {@code --add-modules jdk.incubator.vector}, same options and arguments.
   */
  private static int relaunchWithVectorApi(String[] args) {
    java.util.List<String> cmd = new java.util.ArrayList<>();
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

  static String usage() {
    return String.join("\n",
        "usage: java -jar kernel-ext/target/saelab.jar <command> [options]",
        "",
        "commands:",
        "  inspect PATH...   describe model folders, SAEs (Gemma Scope, SAELens), safetensors/npz/npy files and",
        "                    Neuronpedia label exports; folders are searched for all of these",
        "  tables ...        per-head QK/OV feature-to-feature tables, summed over heads, at a RoPE distance,",
        "                    cosine-normalised (tables --help)",
        "  rope-profile ...  QK score of fixed directions (b_dec, feature pairs) over query-key distance",
        "  svd ...           singular values of each head's QK/OV circuit, feature loadings, per-pair splits",
        "  feature ...       one feature's top partners in every head (query/key/value/output) and its norms",
        "  qkov-scatter ...  per head, mean QK as key against mean |OV| as value per feature, and Pearson r",
        "  notebook ...      install the Java kernel + SAE Lab, run notebooks headless, or start a server",
        "  bench ...         speed and memory benchmarks (bench --help)",
        "");
  }
}
