package dev.saelab.io;

/**
 * Receives a tensor's values in order: {@code values[0..count)} are elements {@code [offset,
 * offset+count)}.
 */
@FunctionalInterface
public interface FloatChunkSink {
  /** Accepts one chunk; the array is reused after the call returns. */
  void accept(long offset, float[] values, int count);
}
