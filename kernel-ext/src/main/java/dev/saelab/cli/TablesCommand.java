package dev.saelab.cli;

import java.io.PrintStream;

/** {@code saelab tables}: placeholder until the circuits engine lands. */
final class TablesCommand {
  private final PrintStream out;

  TablesCommand(PrintStream out, PrintStream err) {
    this.out = out;
  }

  int run(String[] args) {
    out.println("tables: not yet available");
    return 2;
  }
}
