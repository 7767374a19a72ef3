package dev.saelab.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;

/**
 * A {@code saelab} command: its options are fields, {@link #call} runs it and returns the exit
 * code.
 */
public abstract class CliCommand implements Callable<Integer> {
  /** Where results go. */
  protected PrintStream out = System.out;

  /** Where progress, warnings and errors go. */
  protected PrintStream err = System.err;

  @Mixin HelpOption help;

  /** Sets the streams (the command line's, or a test's). */
  public CliCommand io(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
    return this;
  }

  @Override
  public abstract Integer call() throws Exception;

  /**
   * {@code --out}, which the command line requires (a magic returns its result instead, and writes
   * only if asked).
   */
  static Path requireOut(Path out, String what) {
    if (out == null) {
      throw new IllegalArgumentException("needs --out " + what);
    }
    return out;
  }
}
