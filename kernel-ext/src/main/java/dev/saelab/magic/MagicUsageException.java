package dev.saelab.magic;

/**
 * A wrong magic argument: the message is one line naming the argument and the valid choices. No
 * stack trace is recorded, so a kernel shows just that line; the kernel and its variables are
 * untouched.
 */
public final class MagicUsageException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /** A usage error with its one-line message. */
  public MagicUsageException(String message) {
    super(message);
  }

  @Override
  public synchronized Throwable fillInStackTrace() {
    return this;
  }
}
