package dev.saelab.cli;

import java.io.PrintStream;
import picocli.CommandLine;

/**
 * Commands that a second artifact adds to {@code saelab} when it is on the class path, found
 * through {@link java.util.ServiceLoader} (e.g. the atlas runner's {@code saelab bench atlas}), so
 * that the plain jar knows nothing of them.
 */
public interface CommandLineExtension {
  /**
   * Adds commands to {@code top}, the whole command line, writing to {@code out} and {@code err}.
   */
  void extend(CommandLine top, PrintStream out, PrintStream err);
}
