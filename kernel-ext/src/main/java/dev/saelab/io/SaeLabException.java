package dev.saelab.io;

import java.nio.file.Path;

/**
 * The one error type users see: a message that names the file (and the tensor, field or argument)
 * and says what was expected. Every reader and command converts lower-level failures into this.
 */
public class SaeLabException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates an error with a complete, user-facing message. */
  public SaeLabException(String message) {
    super(message);
  }

  /**
   * Creates an error with a complete, user-facing message and the low-level cause (kept for
   * debugging).
   */
  public SaeLabException(String message, Throwable cause) {
    super(message, cause);
  }

  /** {@code "<file>: <what>"}: the common shape of a file error. */
  public static SaeLabException inFile(Path file, String what) {
    return new SaeLabException(file + ": " + what);
  }

  /** {@code "<file>: tensor '<name>': <what>"}. */
  public static SaeLabException inTensor(Path file, String tensor, String what) {
    return new SaeLabException(file + ": tensor '" + tensor + "': " + what);
  }
}
