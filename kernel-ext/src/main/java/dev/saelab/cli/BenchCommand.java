package dev.saelab.cli;

import java.io.PrintStream;

/** {@code saelab bench}: placeholder until the benchmarks lands. */
final class BenchCommand {
  private final PrintStream out;

  BenchCommand(PrintStream out, PrintStream err) {
    this.out = out;
  }

  int run(String[] args) {
    out.println("bench: not yet available");
    return 2;
  }
}
