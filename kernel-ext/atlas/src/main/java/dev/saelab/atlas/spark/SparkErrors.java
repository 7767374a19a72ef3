package dev.saelab.atlas.spark;

import dev.saelab.io.SaeLabException;
import java.io.UncheckedIOException;

/**
 * Spark wraps a task's exception in a {@code SparkException} ("Job aborted due to stage failure:
 * ... most recent failure: ...", with the executor's stack trace in the message); the atlas stops
 * instead with the task's own one-line error, which names the file.
 */
final class SparkErrors {
  private SparkErrors() {}

  /**
   * The first {@link SaeLabException}, {@link IllegalArgumentException} or {@link
   * UncheckedIOException} in {@code e}'s causes (the unit's own error); else {@code e} itself, or
   * an {@link IllegalStateException} with its message when it is a checked exception (Spark's).
   */
  static RuntimeException unwrap(Exception e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SaeLabException
          || t instanceof IllegalArgumentException
          || t instanceof UncheckedIOException) {
        return (RuntimeException) t;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return e instanceof RuntimeException r ? r : new IllegalStateException(e.getMessage(), e);
  }
}
