package dev.saelab.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * A NumPy {@code .npz} archive (e.g. Gemma Scope's {@code params.npz}): members {@code name.npy},
 * STORED or DEFLATED, Zip64 included (1M-width Gemma Scope files exceed 4 GiB). Opening reads the
 * central directory and each member's NPY header; reading one array inflates only that member.
 */
public final class NpzFile implements TensorSource {
  private final Path path;
  private final ZipFile zip;
  private final List<TensorInfo> tensors;
  private final Map<String, ZipEntry> entries;
  private final Map<String, Long> headerBytes;
  private final AtomicLong bytesRead = new AtomicLong();

  private NpzFile(
      Path path,
      ZipFile zip,
      List<TensorInfo> tensors,
      Map<String, ZipEntry> entries,
      Map<String, Long> headerBytes) {
    this.path = path;
    this.zip = zip;
    this.tensors = tensors;
    this.entries = entries;
    this.headerBytes = headerBytes;
  }

  /** Opens the archive and reads every member's NPY header. */
  public static NpzFile open(Path path) {
    ZipFile zip;
    try {
      zip = new ZipFile(path.toFile());
    } catch (ZipException e) {
      throw SaeLabException.inFile(path, "not a valid npz (zip) archive: " + e.getMessage());
    } catch (IOException e) {
      throw SaeLabException.inFile(path, "cannot open: " + e.getMessage());
    }
    try {
      List<TensorInfo> tensors = new ArrayList<>();
      Map<String, ZipEntry> entries = new LinkedHashMap<>();
      Map<String, Long> headers = new LinkedHashMap<>();
      for (ZipEntry e : Collections.list(zip.entries())) {
        if (e.isDirectory() || !e.getName().endsWith(".npy")) {
          continue;
        }
        String name = e.getName().substring(0, e.getName().length() - 4);
        NpyHeader h;
        try (InputStream in = zip.getInputStream(e)) {
          h = NpyHeader.read(in, path, name);
        }
        long declared = e.getSize();
        long needed = h.headerBytes() + h.info().byteSize();
        if (declared >= 0 && declared != needed) {
          throw SaeLabException.inTensor(
              path,
              name,
              "member holds "
                  + declared
                  + " bytes but its header ("
                  + h.info().dtype()
                  + " "
                  + h.info().shapeString()
                  + ") needs "
                  + needed);
        }
        if (e.getMethod() == ZipEntry.DEFLATED
            && e.getCompressedSize() >= 0
            && declared > e.getCompressedSize() * 1100 + 4096) {
          throw SaeLabException.inTensor(
              path,
              name,
              "member claims "
                  + declared
                  + " bytes from "
                  + e.getCompressedSize()
                  + " compressed: more than DEFLATE can expand (corrupt or hostile file)");
        }
        tensors.add(h.info());
        entries.put(name, e);
        headers.put(name, h.headerBytes());
      }
      if (tensors.isEmpty()) {
        throw SaeLabException.inFile(path, "npz archive holds no .npy arrays");
      }
      return new NpzFile(path, zip, Collections.unmodifiableList(tensors), entries, headers);
    } catch (IOException | RuntimeException e) {
      try {
        zip.close();
      } catch (IOException ignored) {
        // already failing
      }
      if (e instanceof SaeLabException s) {
        throw s;
      }
      throw SaeLabException.inFile(path, "corrupt npz archive: " + e.getMessage());
    }
  }

  @Override
  public Path path() {
    return path;
  }

  @Override
  public String format() {
    return "npz";
  }

  @Override
  public List<TensorInfo> tensors() {
    return tensors;
  }

  /** True if the member is stored without compression. */
  public boolean isStored(String name) {
    info(name);
    return entries.get(name).getMethod() == ZipEntry.STORED;
  }

  @Override
  public void read(String name, FloatChunkSink sink) {
    TensorInfo t = info(name);
    TensorReadSupport.requireFloat(this, t);
    try (InputStream in = zip.getInputStream(entries.get(name))) {
      in.skipNBytes(headerBytes.get(name));
      bytesRead.addAndGet(StreamTensors.readData(in, t, path, sink));
    } catch (ZipException e) {
      throw SaeLabException.inTensor(path, name, "corrupt compressed data: " + e.getMessage());
    } catch (IOException e) {
      throw SaeLabException.inTensor(path, name, "read failed: " + e.getMessage());
    }
  }

  @Override
  public long bytesRead() {
    return bytesRead.get();
  }

  @Override
  public void close() {
    try {
      zip.close();
    } catch (IOException ignored) {
      // read-only
    }
  }
}
