package dev.saelab.linalg;

/**
 * Receives progress of a long computation; the command line prints it to stderr, notebooks show a
 * bar.
 */
@FunctionalInterface
public interface Progress {
  /** No output. */
  Progress NONE = (stage, done, total) -> {};

  /** {@code done} of {@code total} units of {@code stage} are finished. */
  void update(String stage, long done, long total);
}
