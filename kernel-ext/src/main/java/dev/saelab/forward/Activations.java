package dev.saelab.forward;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What a forward pass recorded: float32 arrays by TransformerLens hook name, in the order asked.
 *
 * @param tokenIds the input
 * @param byName the arrays ({@link Hook.Point} gives each shape)
 */
public record Activations(int[] tokenIds, Map<String, INDArray> byName) implements AutoCloseable {
  /** Keeps its own copies of the containers. */
  public Activations {
    tokenIds = tokenIds.clone();
    byName = Collections.unmodifiableMap(new LinkedHashMap<>(byName));
  }

  /**
   * Reads activations saved elsewhere (safetensors or npz, keyed by TransformerLens hook names; see
   * {@link ActivationFile}).
   */
  public static Activations read(java.nio.file.Path file) {
    return ActivationFile.read(file);
  }

  /** The token ids (a copy; empty when an imported file recorded none). */
  @Override
  public int[] tokenIds() {
    return tokenIds.clone();
  }

  /** The array recorded at {@code hook}; an error naming the hooks recorded when absent. */
  public INDArray get(Hook hook) {
    return get(hook.name());
  }

  /** The array recorded under {@code name}. */
  public INDArray get(String name) {
    INDArray a = byName.get(name);
    if (a == null) {
      throw new IllegalArgumentException(
          "hook "
              + name
              + " was not recorded (recorded: "
              + String.join(", ", byName.keySet())
              + ")");
    }
    return a;
  }

  /** Frees the arrays. */
  @Override
  public void close() {
    byName.values().forEach(INDArray::close);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("Activations of " + tokenIds.length + " tokens:");
    byName.forEach((k, v) -> sb.append(' ').append(k).append(java.util.Arrays.toString(v.shape())));
    return sb.toString();
  }
}
