package dev.saelab.sae;

import dev.saelab.io.FloatChunkSink;
import dev.saelab.io.SaeLabException;
import dev.saelab.io.TensorInfo;
import dev.saelab.io.TensorSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Tensors computed on read from stored ones: a stored tensor times a scale (Llama Scope's folded
 * normalisation), a constant vector (a scalar threshold), or a slice of other files (a cross-layer
 * transcoder's decoder). Still one tensor at a time, on request; nothing is read on open.
 */
final class DerivedTensors implements TensorSource {
  /** Writes one derived tensor's values, element by element in C order. */
  @FunctionalInterface
  interface Reader {
    void read(FloatChunkSink sink);
  }

  private final Path path;
  private final String format;
  private final Map<String, Reader> readers = new LinkedHashMap<>();
  private final List<TensorInfo> infos = new ArrayList<>();
  private final List<TensorSource> owned;
  private final AtomicLong extraBytes = new AtomicLong();

  /**
   * @param owned stored sources this one reads (closed with it; their bytes are counted)
   */
  DerivedTensors(Path path, String format, List<TensorSource> owned) {
    this.path = path;
    this.format = format;
    this.owned = List.copyOf(owned);
  }

  /** Adds a tensor whose values {@code reader} produces. */
  DerivedTensors add(TensorInfo info, Reader reader) {
    infos.add(info);
    readers.put(info.name(), reader);
    return this;
  }

  /**
   * Adds {@code src}'s tensor {@code stored} under the name {@code name}, each value times scale.
   */
  DerivedTensors scaled(String name, TensorSource src, String stored, float scale, boolean divide) {
    TensorInfo t = src.info(stored);
    return add(
        new TensorInfo(name, t.dtype(), t.shape()),
        sink ->
            src.read(
                stored,
                (offset, values, count) -> {
                  for (int k = 0; k < count; k++) {
                    values[k] = divide ? values[k] / scale : values[k] * scale;
                  }
                  sink.accept(offset, values, count);
                }));
  }

  /** Adds a vector of n copies of {@code value}. */
  DerivedTensors constant(String name, long n, float value) {
    return add(
        new TensorInfo(name, dev.saelab.io.DType.F32, new long[] {n}),
        sink -> {
          float[] chunk = new float[(int) Math.min(n, 1 << 16)];
          java.util.Arrays.fill(chunk, value);
          for (long done = 0; done < n; done += chunk.length) {
            sink.accept(done, chunk, (int) Math.min(chunk.length, n - done));
          }
        });
  }

  /** Adds {@code src}'s tensor {@code stored} unchanged under {@code name}. */
  DerivedTensors alias(String name, TensorSource src, String stored) {
    TensorInfo t = src.info(stored);
    return add(new TensorInfo(name, t.dtype(), t.shape()), sink -> src.read(stored, sink));
  }

  /** Counts bytes read directly from files (slices), for {@link #bytesRead()}. */
  void countBytes(long n) {
    extraBytes.addAndGet(n);
  }

  @Override
  public Path path() {
    return path;
  }

  @Override
  public String format() {
    return format;
  }

  @Override
  public List<TensorInfo> tensors() {
    return List.copyOf(infos);
  }

  @Override
  public void read(String name, FloatChunkSink sink) {
    Reader r = readers.get(name);
    if (r == null) {
      throw SaeLabException.inFile(path, "no tensor named '" + name + "'");
    }
    r.read(sink);
  }

  @Override
  public long bytesRead() {
    long n = extraBytes.get();
    for (TensorSource s : owned) {
      n += s.bytesRead();
    }
    return n;
  }

  @Override
  public void close() {
    for (TensorSource s : owned) {
      s.close();
    }
  }
}
