/**
 * The {@code saelab} command line and the one option schema it shares with the magics ({@link
 * dev.saelab.cli.Schema}): each command is a picocli class whose annotated fields are its options;
 * {@link dev.saelab.cli.Main} runs them; commands that are also magics implement {@link
 * dev.saelab.cli.Shared}.
 */
package dev.saelab.cli;
