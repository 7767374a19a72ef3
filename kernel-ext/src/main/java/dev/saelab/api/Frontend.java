package dev.saelab.api;

/**
 * The notebook front-end (kernel adapters and magics), found with {@link java.util.ServiceLoader}
 * so that the API does not depend on the layers above it. {@link SaeLab#init()}, {@link
 * SaeLab#magic} and {@link SaeLab#help()} go through it.
 */
public interface Frontend {
  /** Installs SAE Lab into the running kernel; returns the adapter's name or "none". Idempotent. */
  String install();

  /**
   * Runs one magic line ({@code "qk --heads 1"}, without the {@code %}); returns what the magic
   * returns.
   */
  Object magic(String line);

  /** The list of magics with examples. */
  String help();
}
