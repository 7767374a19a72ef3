package dev.saelab.cli;

/**
 * A command that is also a magic: {@code saelab NAME ...} on the command line, {@code %NAME ...} in
 * a notebook, with the same options. The command line writes files; the magic returns {@link
 * #result}, the object the Java API returns.
 */
public interface Shared {
  /** The loading flags, or null for a command that loads no layer. */
  InputOptions inputs();

  /**
   * What the magic returns, computed on {@code layer} (null when {@link #inputs()} is null); writes
   * {@code --out} if given.
   */
  Object result(Layer layer) throws Exception;
}
