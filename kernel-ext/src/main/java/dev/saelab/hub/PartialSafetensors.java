package dev.saelab.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saelab.io.AtomicFiles;
import dev.saelab.io.SaeLabException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiPredicate;
import java.util.function.Predicate;

/**
 * Reads only part of a remote safetensors file: its header (two Range requests: the 8-byte length,
 * then the JSON), then just the tensors asked for, and writes them as a new, valid safetensors
 * file. Gemma 2 2B's layer-13 attention tensors are tens of MB of a ~10 GB checkpoint. The remote
 * header is untrusted: size-limited, offsets checked against the file size.
 */
public final class PartialSafetensors {
  private static final long MAX_HEADER = 100_000_000L;

  private PartialSafetensors() {}

  /** Names of the tensors in a remote safetensors file (header only). */
  public static List<String> names(Hub hub, String repo, String commit, String path) {
    List<String> out = new ArrayList<>();
    header(hub, repo, commit, path, hub.head(repo, commit, path).size())
        .json()
        .fieldNames()
        .forEachRemaining(
            n -> {
              if (!n.equals("__metadata__")) {
                out.add(n);
              }
            });
    return out;
  }

  private record Header(long length, JsonNode json) {}

  private static Header header(Hub hub, String repo, String commit, String path, long fileSize) {
    byte[] raw = rawHeader(hub, repo, commit, path, fileSize);
    return new Header(raw.length - 8, parse(raw, repo + "/" + path));
  }

  /** The 8-byte length and the JSON header, as stored (two Range requests). */
  private static byte[] rawHeader(Hub hub, String repo, String commit, String path, long fileSize) {
    byte[] len = hub.range(repo, commit, path, 0, 8);
    long n = checkLength(len, fileSize, repo + "/" + path);
    byte[] json = hub.range(repo, commit, path, 8, n);
    byte[] raw = java.util.Arrays.copyOf(len, (int) (8 + n));
    System.arraycopy(json, 0, raw, 8, json.length);
    return raw;
  }

  private static long checkLength(byte[] first8, long fileSize, String what) {
    long n = ByteBuffer.wrap(first8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    if (n <= 0 || n > MAX_HEADER || (fileSize >= 0 && 8 + n > fileSize)) {
      throw new SaeLabException(
          what
              + ": header length "
              + n
              + " is not plausible (file size "
              + fileSize
              + ", limit "
              + MAX_HEADER
              + ")");
    }
    return n;
  }

  private static JsonNode parse(byte[] raw, String what) {
    try {
      JsonNode h =
          new ObjectMapper()
              .readTree(new String(raw, 8, raw.length - 8, StandardCharsets.UTF_8).strip());
      if (h == null || !h.isObject()) {
        throw new SaeLabException(what + ": the safetensors header is not a JSON object");
      }
      return h;
    } catch (IOException e) {
      throw new SaeLabException(
          what + ": the safetensors header is not valid JSON: " + e.getMessage());
    }
  }

  /**
   * Fetches the tensors whose names pass {@code keep} from {@code repo/path} at {@code commit} into
   * a new file {@code dest} (written to a temporary name, then moved). Returns the names written.
   */
  public static List<String> fetch(
      Hub hub, String repo, String commit, String path, Predicate<String> keep, Path dest) {
    long size = hub.head(repo, commit, path).size();
    Header hd = header(hub, repo, commit, path, size);
    JsonNode h = hd.json();
    long dataStart = 8 + hd.length();
    List<Entry> wants = new ArrayList<>();
    for (Entry e : entries(h, dataStart, size, repo + "/" + path)) {
      if (keep.test(e.name())) {
        wants.add(e);
      }
    }
    wants.sort(Comparator.comparingLong(Entry::begin));
    ObjectMapper om = new ObjectMapper();
    ObjectNode out = om.createObjectNode();
    long pos = 0;
    for (Entry w : wants) {
      ObjectNode t = om.createObjectNode();
      t.set("dtype", w.info().get("dtype"));
      t.set("shape", w.info().get("shape"));
      t.putArray("data_offsets").add(pos).add(pos + (w.end() - w.begin()));
      out.set(w.name(), t);
      pos += w.end() - w.begin();
    }
    byte[] json = out.toString().getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) / 8 * 8;
    try {
      AtomicFiles.write(
          dest,
          os -> {
            os.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
            os.write(json);
            for (int i = json.length; i < padded; i++) {
              os.write(' ');
            }
            // contiguous tensors are fetched in one request
            int i = 0;
            while (i < wants.size()) {
              int j = i;
              while (j + 1 < wants.size() && wants.get(j + 1).begin() == wants.get(j).end()) {
                j++;
              }
              long from = wants.get(i).begin();
              long to = wants.get(j).end();
              for (long c = from; c < to; c += 256L << 20) {
                os.write(
                    hub.range(repo, commit, path, dataStart + c, Math.min(256L << 20, to - c)));
              }
              i = j + 1;
            }
          });
    } catch (IOException e) {
      throw new SaeLabException("writing " + dest + ": " + e.getMessage());
    }
    return wants.stream().map(Entry::name).toList();
  }

  /**
   * A tensor of a header.
   *
   * @param name its name
   * @param info its header entry
   * @param begin start of its bytes, relative to the data section
   * @param end end of its bytes (exclusive)
   */
  private record Entry(String name, JsonNode info, long begin, long end) {
    /** Its shape (an empty array for a scalar or a malformed entry). */
    long[] shape() {
      JsonNode sh = info.path("shape");
      long[] out = new long[sh.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = sh.get(i).asLong();
      }
      return out;
    }
  }

  /** The header's tensors, their offsets checked against the file size. */
  private static List<Entry> entries(JsonNode h, long dataStart, long size, String what) {
    List<Entry> out = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = h.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().equals("__metadata__")) {
        continue;
      }
      JsonNode off = e.getValue().path("data_offsets");
      if (!off.isArray()
          || off.size() != 2
          || !off.get(0).canConvertToLong()
          || !off.get(1).canConvertToLong()) {
        throw new SaeLabException(what + ": tensor '" + e.getKey() + "' has no valid data_offsets");
      }
      long b = off.get(0).asLong();
      long en = off.get(1).asLong();
      if (b < 0 || en < b || (size >= 0 && dataStart + en > size)) {
        throw new SaeLabException(
            what
                + ": tensor '"
                + e.getKey()
                + "' has offsets ["
                + b
                + ", "
                + en
                + ") outside the file ("
                + size
                + " bytes)");
      }
      out.add(new Entry(e.getKey(), e.getValue(), b, en));
    }
    out.sort(Comparator.comparingLong(Entry::begin));
    return out;
  }

  /** Range reads of at most this many bytes while filling (one progress step each). */
  private static final long FILL_CHUNK = 64L << 20;

  /**
   * A local copy of the remote safetensors file {@code repo/path} at {@code commit} ({@code meta}
   * from a HEAD request) holding only some of its tensors: byte for byte the remote file where it
   * holds a tensor (its header and offsets unchanged), a hole of zeros (a sparse file where the
   * file system has them) where it does not. Tensors passing {@code keep} (name and shape) are
   * fetched by Range requests, adjacent ones in one; {@code state} (a JSON file) records which
   * tensors are in place, after each run of them, so a later call with more tensors fetches only
   * the missing ones and an interrupted one resumes at the first tensor not recorded. Calls are
   * serialised in this JVM and, by a lock file beside {@code state}, between processes. Returns the
   * names of all tensors now in the file.
   */
  @SuppressWarnings("try") // the lock is held, not used
  static synchronized List<String> fill(
      Hub hub,
      String repo,
      String commit,
      String path,
      Hub.FileMeta meta,
      BiPredicate<String, long[]> keep,
      Path dest,
      Path state) {
    String what = repo + "/" + path;
    if (meta.size() < 0) {
      throw new SaeLabException(what + ": the hub sent no size; partial reads need it");
    }
    try {
      Files.createDirectories(state.getParent());
      Files.createDirectories(dest.getParent());
      try (FileChannel lockCh =
              FileChannel.open(
                  state.resolveSibling(state.getFileName() + ".lock"),
                  StandardOpenOption.CREATE,
                  StandardOpenOption.WRITE);
          FileLock ignored = lockCh.lock()) {
        Set<String> filled = readState(state, meta, dest);
        byte[] raw;
        if (filled == null) {
          raw = rawHeader(hub, repo, commit, path, meta.size());
        } else {
          try (FileChannel in = FileChannel.open(dest, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8);
            readFully(in, len, dest);
            long n = checkLength(len.array(), meta.size(), dest.toString());
            ByteBuffer all = ByteBuffer.allocate((int) (8 + n));
            readFully(in, all, dest);
            raw = all.array();
          }
        }
        long dataStart = raw.length;
        List<Entry> all = entries(parse(raw, what), dataStart, meta.size(), what);
        if (filled == null) {
          filled = new LinkedHashSet<>();
          try (FileChannel out =
              FileChannel.open(
                  dest,
                  StandardOpenOption.CREATE,
                  StandardOpenOption.WRITE,
                  StandardOpenOption.TRUNCATE_EXISTING,
                  StandardOpenOption.SPARSE)) {
            writeFully(out, ByteBuffer.wrap(raw), 0);
            if (meta.size() > dataStart) {
              // the file's full length, the rest a hole until filled
              writeFully(out, ByteBuffer.wrap(new byte[1]), meta.size() - 1);
            }
            out.force(true);
          }
          writeState(state, meta, filled);
        }
        List<Entry> missing = new ArrayList<>();
        for (Entry e : all) {
          if (!filled.contains(e.name()) && (keep.test(e.name(), e.shape()))) {
            missing.add(e);
          }
        }
        long total = missing.stream().mapToLong(e -> e.end() - e.begin()).sum();
        java.util.function.LongConsumer line = hub.statusLine("fetching", what, 0, total);
        try (FileChannel out = FileChannel.open(dest, StandardOpenOption.WRITE)) {
          int i = 0;
          while (i < missing.size()) {
            int j = i;
            while (j + 1 < missing.size() && missing.get(j + 1).begin() == missing.get(j).end()) {
              j++;
            }
            long from = missing.get(i).begin();
            long to = missing.get(j).end();
            for (long c = from; c < to; c += FILL_CHUNK) {
              byte[] b = hub.range(repo, commit, path, dataStart + c, Math.min(FILL_CHUNK, to - c));
              writeFully(out, ByteBuffer.wrap(b), dataStart + c);
              line.accept(b.length);
            }
            out.force(true);
            for (int k = i; k <= j; k++) {
              filled.add(missing.get(k).name());
            }
            writeState(state, meta, filled);
            i = j + 1;
          }
        }
        List<String> names = new ArrayList<>();
        for (Entry e : all) {
          if (filled.contains(e.name())) {
            names.add(e.name());
          }
        }
        return names;
      }
    } catch (IOException e) {
      throw new SaeLabException("writing " + dest + ": " + e.getMessage());
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer b, Path file) throws IOException {
    while (b.hasRemaining()) {
      if (ch.read(b, b.position()) < 0) {
        throw new SaeLabException(file + ": the header runs past the end of the file");
      }
    }
  }

  private static void writeFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
    while (b.hasRemaining()) {
      pos += ch.write(b, pos);
    }
  }

  /**
   * The tensors {@code state} says are in {@code dest}, or null when there is no usable copy (no
   * state, another blob, or a file of the wrong size).
   */
  private static Set<String> readState(Path state, Hub.FileMeta meta, Path dest)
      throws IOException {
    if (!Files.isRegularFile(state) || !Files.isRegularFile(dest)) {
      return null;
    }
    JsonNode st;
    try {
      st = new ObjectMapper().readTree(Files.readAllBytes(state));
    } catch (IOException e) {
      return null;
    }
    if (st == null
        || !meta.etag().equals(st.path("etag").asText())
        || st.path("size").asLong(-1) != meta.size()
        || Files.size(dest) != meta.size()) {
      return null;
    }
    Set<String> out = new LinkedHashSet<>();
    st.path("filled").forEach(n -> out.add(n.asText()));
    return out;
  }

  private static void writeState(Path state, Hub.FileMeta meta, Set<String> filled)
      throws IOException {
    ObjectNode o = new ObjectMapper().createObjectNode();
    o.put("commit", meta.commit());
    o.put("etag", meta.etag());
    o.put("size", meta.size());
    var arr = o.putArray("filled");
    filled.forEach(arr::add);
    byte[] b = o.toPrettyString().getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(state, os -> os.write(b));
  }
}
