package dev.saelab.io;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** A single {@code .npy} file holding one array, named after the file (without ".npy"). */
public final class NpyFile implements TensorSource {
  private final Path path;
  private final NpyHeader header;
  private final AtomicLong bytesRead = new AtomicLong();

  private NpyFile(Path path, NpyHeader header) {
    this.path = path;
    this.header = header;
  }

  /** Opens the file and reads its header; checks the data length matches the shape. */
  public static NpyFile open(Path path) {
    String name = path.getFileName().toString().replaceFirst("\\.npy$", "");
    try (InputStream in = new BufferedInputStream(Files.newInputStream(path))) {
      NpyHeader h = NpyHeader.read(in, path, name);
      long size = Files.size(path);
      long needed = h.headerBytes() + h.info().byteSize();
      if (size != needed) {
        throw SaeLabException.inTensor(
            path,
            name,
            "file has "
                + size
                + " bytes but its header ("
                + h.info().dtype()
                + " "
                + h.info().shapeString()
                + ") needs "
                + needed);
      }
      return new NpyFile(path, h);
    } catch (IOException e) {
      throw SaeLabException.inFile(path, "cannot read: " + e.getMessage());
    }
  }

  @Override
  public Path path() {
    return path;
  }

  @Override
  public String format() {
    return "npy";
  }

  @Override
  public List<TensorInfo> tensors() {
    return List.of(header.info());
  }

  @Override
  public void read(String name, FloatChunkSink sink) {
    TensorInfo t = info(name);
    TensorReadSupport.requireFloat(this, t);
    try (InputStream in = new BufferedInputStream(Files.newInputStream(path), 1 << 20)) {
      in.skipNBytes(header.headerBytes());
      bytesRead.addAndGet(StreamTensors.readData(in, t, path, sink));
    } catch (IOException e) {
      throw SaeLabException.inTensor(path, name, "read failed: " + e.getMessage());
    }
  }

  @Override
  public long bytesRead() {
    return bytesRead.get();
  }

  @Override
  public void close() {}
}
