package dev.saelab.io;

import java.io.Closeable;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A file (or set of files) of named tensors whose headers have been read but whose data has not.
 * Data is read one tensor at a time, on request, converted to float32. Implementations: safetensors
 * (single and sharded), NPZ, NPY.
 */
public interface TensorSource extends Closeable {
  /** The file or folder this source reads, for messages. */
  Path path();

  /** Short format name for {@code saelab inspect}: "safetensors", "npz", ... */
  String format();

  /** Tensors in file order. */
  List<TensorInfo> tensors();

  /** The named tensor's header, if present. */
  default Optional<TensorInfo> find(String name) {
    return tensors().stream().filter(t -> t.name().equals(name)).findFirst();
  }

  /**
   * The named tensor's header; a {@link SaeLabException} naming the file and the missing tensor
   * otherwise.
   */
  default TensorInfo info(String name) {
    return find(name)
        .orElseThrow(
            () ->
                SaeLabException.inFile(
                    path(),
                    "no tensor named '"
                        + name
                        + "' (has "
                        + TensorReadSupport.names(tensors())
                        + ")"));
  }

  /** Reads the tensor as float32 into {@code sink}, element by element in C order, in chunks. */
  void read(String name, FloatChunkSink sink);

  /**
   * Reads elements {@code [start, start + count)} of the tensor (C order) as float32 into {@code
   * sink}, whose offsets count from {@code start}. This default streams the whole tensor and keeps
   * the range; safetensors files read only the range's bytes.
   */
  default void readRange(String name, long start, long count, FloatChunkSink sink) {
    TensorInfo t = info(name);
    if (start < 0 || count < 0 || start + count > t.numel()) {
      throw SaeLabException.inTensor(
          path(),
          name,
          "elements [" + start + ", " + (start + count) + ") out of range 0.." + t.numel());
    }
    long end = start + count;
    read(
        name,
        (offset, values, n) -> {
          long a = Math.max(offset, start);
          long b = Math.min(offset + n, end);
          if (a < b) {
            float[] part = new float[(int) (b - a)];
            System.arraycopy(values, (int) (a - offset), part, 0, part.length);
            sink.accept(a - start, part, part.length);
          }
        });
  }

  /** Reads the tensor into a new float32 ND4J array of its shape (C order). */
  default INDArray readArray(String name) {
    return TensorReadSupport.toArray(this, info(name));
  }

  /** Reads the tensor into a Java array (tensors under 2^31 elements). */
  default float[] readFloats(String name) {
    return TensorReadSupport.toFloats(this, info(name));
  }

  /** Bytes of tensor data read from disk so far (headers excluded), for benchmarks. */
  long bytesRead();

  @Override
  void close();
}
