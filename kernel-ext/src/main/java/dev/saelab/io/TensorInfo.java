package dev.saelab.io;

import java.util.Arrays;

/**
 * What a file says about one tensor, before any data is read: name, stored type, shape.
 *
 * @param name tensor name as stored (safetensors key, or NPZ member name without ".npy")
 * @param dtype stored element type
 * @param shape dimensions, C order; empty for a scalar
 */
public record TensorInfo(String name, DType dtype, long[] shape) {
  /** Number of elements (1 for a scalar). */
  public long numel() {
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /** Bytes the data occupies on disk. */
  public long byteSize() {
    return Math.multiplyExact(numel(), dtype.size());
  }

  /** Shape as {@code [2304, 16384]}. */
  public String shapeString() {
    return Arrays.toString(shape);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorInfo t
        && t.name.equals(name)
        && t.dtype == dtype
        && Arrays.equals(t.shape, shape);
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + " " + dtype + " " + shapeString();
  }
}
