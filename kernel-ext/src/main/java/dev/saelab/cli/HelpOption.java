package dev.saelab.cli;

import picocli.CommandLine.Option;

/** {@code -h}/{@code --help} on every command and magic. */
public final class HelpOption {
  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "show this help")
  boolean help;
}
