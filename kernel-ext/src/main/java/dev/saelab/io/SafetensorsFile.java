package dev.saelab.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One {@code .safetensors} file: opening reads and validates only the header; {@link #read}
 * memory-maps the one tensor's byte range (files over 2 GiB included, in windows).
 *
 * <p>Validated on open, each failure a {@link SaeLabException} naming the file (and tensor): the
 * 8-byte header length is at most 100 MB and inside the file; the header is UTF-8 JSON whose
 * entries have a known dtype, a shape of non-negative integers and {@code data_offsets [begin,
 * end)} with {@code end - begin == numel * size}; the entries tile the data buffer exactly (no gap,
 * no overlap, last end == buffer length).
 */
public final class SafetensorsFile implements TensorSource {
  /** Header size limit of the reference implementation. */
  public static final long MAX_HEADER = 100_000_000L;

  private static final long WINDOW = 1L << 28;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path path;
  private volatile FileChannel channel;
  private boolean closed;
  private final long dataStart;
  private final List<TensorInfo> tensors;
  private final Map<String, long[]> offsets;
  private final Map<String, String> metadata;
  private final AtomicLong bytesRead = new AtomicLong();

  private SafetensorsFile(
      Path path,
      FileChannel channel,
      long dataStart,
      List<TensorInfo> tensors,
      Map<String, long[]> offsets,
      Map<String, String> metadata) {
    this.path = path;
    this.channel = channel;
    this.dataStart = dataStart;
    this.tensors = tensors;
    this.offsets = offsets;
    this.metadata = metadata;
  }

  /** Opens the file and validates its header. */
  public static SafetensorsFile open(Path path) {
    FileChannel ch;
    try {
      ch = FileChannel.open(path, StandardOpenOption.READ);
    } catch (IOException e) {
      throw SaeLabException.inFile(path, "cannot open: " + e.getMessage());
    }
    try {
      return parse(path, ch);
    } catch (RuntimeException e) {
      closeQuietly(ch);
      throw e;
    }
  }

  private static SafetensorsFile parse(Path path, FileChannel ch) {
    try {
      long size = ch.size();
      if (size < 8) {
        throw SaeLabException.inFile(
            path,
            "not a safetensors file: " + size + " bytes, expected at least 8 (the header length)");
      }
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, lenBuf, 0);
      long n = lenBuf.getLong(0);
      if (n < 0 || n > MAX_HEADER) {
        throw SaeLabException.inFile(
            path,
            "header length "
                + Long.toUnsignedString(n)
                + " is over the safetensors limit of "
                + MAX_HEADER
                + " bytes (truncated or not a safetensors file)");
      }
      if (8 + n > size) {
        throw SaeLabException.inFile(
            path,
            "header length "
                + n
                + " runs past the end of the file ("
                + size
                + " bytes): truncated file?");
      }
      ByteBuffer hb = ByteBuffer.allocate((int) n);
      readFully(ch, hb, 8);
      hb.flip();
      String header;
      try {
        header =
            StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(hb)
                .toString();
      } catch (CharacterCodingException e) {
        throw SaeLabException.inFile(path, "header is not valid UTF-8");
      }
      JsonNode root;
      try {
        root = JSON.readTree(header);
      } catch (JsonProcessingException e) {
        throw SaeLabException.inFile(path, "header is not valid JSON: " + e.getOriginalMessage());
      }
      if (root == null || !root.isObject()) {
        throw SaeLabException.inFile(path, "header must be a JSON object of tensors");
      }
      long bufferLen = size - 8 - n;
      List<TensorInfo> tensors = new ArrayList<>();
      Map<String, long[]> offsets = new LinkedHashMap<>();
      Map<String, String> metadata = new LinkedHashMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (e.getKey().equals("__metadata__")) {
          parseMetadata(path, e.getValue(), metadata);
          continue;
        }
        TensorInfo t = parseEntry(path, e.getKey(), e.getValue(), bufferLen, offsets);
        tensors.add(t);
      }
      checkTiling(path, tensors, offsets, bufferLen);
      tensors.sort(Comparator.comparingLong(t -> offsets.get(t.name())[0]));
      return new SafetensorsFile(
          path,
          ch,
          8 + n,
          Collections.unmodifiableList(tensors),
          offsets,
          Collections.unmodifiableMap(metadata));
    } catch (IOException e) {
      throw SaeLabException.inFile(path, "read failed: " + e.getMessage());
    }
  }

  private static void parseMetadata(Path path, JsonNode node, Map<String, String> out) {
    if (!node.isObject()) {
      throw SaeLabException.inFile(path, "__metadata__ must be an object of strings");
    }
    node.fields()
        .forEachRemaining(
            m -> {
              if (!m.getValue().isTextual()) {
                throw SaeLabException.inFile(
                    path, "__metadata__ '" + m.getKey() + "' must be a string");
              }
              out.put(m.getKey(), m.getValue().asText());
            });
  }

  private static TensorInfo parseEntry(
      Path path, String name, JsonNode e, long bufferLen, Map<String, long[]> offsets) {
    if (!e.isObject()) {
      throw SaeLabException.inTensor(
          path, name, "entry must be an object with dtype, shape, data_offsets");
    }
    JsonNode dt = e.get("dtype");
    if (dt == null || !dt.isTextual()) {
      throw SaeLabException.inTensor(path, name, "missing string field 'dtype'");
    }
    DType dtype =
        DType.ofSafetensors(dt.asText())
            .orElseThrow(
                () ->
                    SaeLabException.inTensor(
                        path,
                        name,
                        "unknown dtype '"
                            + dt.asText()
                            + "' (expected one of F32, F16, BF16, F64, I8..U64, BOOL, F8_*)"));
    JsonNode sh = e.get("shape");
    if (sh == null || !sh.isArray()) {
      throw SaeLabException.inTensor(path, name, "missing array field 'shape'");
    }
    long[] shape = new long[sh.size()];
    for (int i = 0; i < shape.length; i++) {
      JsonNode d = sh.get(i);
      if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
        throw SaeLabException.inTensor(
            path, name, "shape " + sh + " must hold non-negative integers");
      }
      shape[i] = d.asLong();
    }
    JsonNode off = e.get("data_offsets");
    if (off == null
        || !off.isArray()
        || off.size() != 2
        || !off.get(0).isIntegralNumber()
        || !off.get(1).isIntegralNumber()
        || !off.get(0).canConvertToLong()
        || !off.get(1).canConvertToLong()) {
      throw SaeLabException.inTensor(path, name, "'data_offsets' must be [begin, end] integers");
    }
    long begin = off.get(0).asLong();
    long end = off.get(1).asLong();
    if (begin < 0 || end < begin || end > bufferLen) {
      throw SaeLabException.inTensor(
          path,
          name,
          "data_offsets ["
              + begin
              + ", "
              + end
              + "] are outside the data buffer of "
              + bufferLen
              + " bytes");
    }
    TensorInfo t = new TensorInfo(name, dtype, shape);
    long expected;
    try {
      expected = t.byteSize();
    } catch (ArithmeticException ex) {
      throw SaeLabException.inTensor(path, name, "shape " + t.shapeString() + " overflows");
    }
    if (end - begin != expected) {
      throw SaeLabException.inTensor(
          path,
          name,
          "holds "
              + (end - begin)
              + " bytes but "
              + dtype
              + " "
              + t.shapeString()
              + " needs "
              + expected);
    }
    offsets.put(name, new long[] {begin, end});
    return t;
  }

  private static void checkTiling(
      Path path, List<TensorInfo> tensors, Map<String, long[]> offsets, long bufferLen) {
    List<TensorInfo> sorted = new ArrayList<>(tensors);
    sorted.sort(
        Comparator.<TensorInfo>comparingLong(t -> offsets.get(t.name())[0])
            .thenComparingLong(t -> offsets.get(t.name())[1]));
    long expectedBegin = 0;
    String prev = null;
    for (TensorInfo t : sorted) {
      long[] o = offsets.get(t.name());
      if (o[0] < expectedBegin) {
        throw SaeLabException.inTensor(
            path,
            t.name(),
            "data_offsets [" + o[0] + ", " + o[1] + "] overlap tensor '" + prev + "'");
      }
      if (o[0] > expectedBegin) {
        throw SaeLabException.inTensor(
            path,
            t.name(),
            "data starts at "
                + o[0]
                + " but the previous tensor ends at "
                + expectedBegin
                + ": offsets must tile the buffer without gaps");
      }
      expectedBegin = o[1];
      prev = t.name();
    }
    if (expectedBegin != bufferLen) {
      throw SaeLabException.inFile(
          path,
          "tensors cover "
              + expectedBegin
              + " bytes but the data buffer has "
              + bufferLen
              + " (truncated or padded file)");
    }
  }

  @Override
  public Path path() {
    return path;
  }

  @Override
  public String format() {
    return "safetensors";
  }

  @Override
  public List<TensorInfo> tensors() {
    return tensors;
  }

  /** The header's {@code __metadata__} map (empty if none). */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** Absolute byte range {@code [begin, end)} of the tensor's data in the file. */
  public long[] fileRange(String name) {
    info(name);
    long[] o = offsets.get(name);
    return new long[] {dataStart + o[0], dataStart + o[1]};
  }

  @Override
  public void read(String name, FloatChunkSink sink) {
    TensorInfo t = info(name);
    TensorReadSupport.requireFloat(this, t);
    long[] range = fileRange(name);
    int es = t.dtype().size();
    long total = t.numel();
    float[] chunk = new float[(int) Math.min(TensorReadSupport.CHUNK, Math.max(total, 1))];
    long done = 0;
    try {
      while (done < total) {
        long windowElems = Math.min(total - done, WINDOW / es);
        MappedByteBuffer mb =
            channel().map(FileChannel.MapMode.READ_ONLY, range[0] + done * es, windowElems * es);
        long inWindow = 0;
        while (inWindow < windowElems) {
          int c = (int) Math.min(chunk.length, windowElems - inWindow);
          TensorReadSupport.convert(mb, t.dtype(), chunk, c);
          sink.accept(done + inWindow, chunk, c);
          inWindow += c;
        }
        done += windowElems;
        bytesRead.addAndGet(windowElems * es);
      }
    } catch (java.nio.channels.ClosedByInterruptException e) {
      // The interrupt closed the channel; channel() reopens it for the next read, so the file stays
      // usable.
      throw new java.util.concurrent.CancellationException(
          "interrupted while reading tensor " + name + " of " + path);
    } catch (IOException e) {
      throw SaeLabException.inTensor(path, name, "read failed: " + e.getMessage());
    }
  }

  /** Maps only the bytes of elements {@code [start, start + count)}. */
  @Override
  public void readRange(String name, long start, long count, FloatChunkSink sink) {
    TensorInfo t = info(name);
    TensorReadSupport.requireFloat(this, t);
    if (start < 0 || count < 0 || start + count > t.numel()) {
      throw SaeLabException.inTensor(
          path,
          name,
          "elements [" + start + ", " + (start + count) + ") out of range 0.." + t.numel());
    }
    int es = t.dtype().size();
    long begin = fileRange(name)[0] + start * es;
    float[] chunk = new float[(int) Math.min(TensorReadSupport.CHUNK, Math.max(count, 1))];
    long done = 0;
    try {
      while (done < count) {
        long windowElems = Math.min(count - done, WINDOW / es);
        MappedByteBuffer mb =
            channel().map(FileChannel.MapMode.READ_ONLY, begin + done * es, windowElems * es);
        long inWindow = 0;
        while (inWindow < windowElems) {
          int c = (int) Math.min(chunk.length, windowElems - inWindow);
          TensorReadSupport.convert(mb, t.dtype(), chunk, c);
          sink.accept(done + inWindow, chunk, c);
          inWindow += c;
        }
        done += windowElems;
        bytesRead.addAndGet(windowElems * es);
      }
    } catch (java.nio.channels.ClosedByInterruptException e) {
      throw new java.util.concurrent.CancellationException(
          "interrupted while reading tensor " + name + " of " + path);
    } catch (IOException e) {
      throw SaeLabException.inTensor(path, name, "read failed: " + e.getMessage());
    }
  }

  /**
   * The open channel; reopened if an interrupt closed it (a notebook interrupt must not break
   * loaded files).
   */
  private synchronized FileChannel channel() throws IOException {
    if (!channel.isOpen() && !closed) {
      channel = FileChannel.open(path, StandardOpenOption.READ);
    }
    return channel;
  }

  @Override
  public long bytesRead() {
    return bytesRead.get();
  }

  @Override
  public synchronized void close() {
    closed = true;
    closeQuietly(channel);
  }

  static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
    while (buf.hasRemaining()) {
      int r = ch.read(buf, pos + buf.position());
      if (r < 0) {
        throw new IOException("unexpected end of file");
      }
    }
  }

  private static void closeQuietly(FileChannel ch) {
    try {
      ch.close();
    } catch (IOException ignored) {
      // nothing to do: the file was opened read-only
    }
  }

  /** True if the file starts like a safetensors file (plausible header length followed by '{'). */
  public static boolean looksLike(Path p) {
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
      if (ch.size() < 9) {
        return false;
      }
      ByteBuffer b = ByteBuffer.allocate(9).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, b, 0);
      long n = b.getLong(0);
      return n > 0 && n <= MAX_HEADER && b.get(8) == '{';
    } catch (IOException e) {
      return false;
    }
  }
}
