package dev.saelab.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saelab.io.AtomicFiles;
import dev.saelab.io.SaeLabException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
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
    long n =
        ByteBuffer.wrap(hub.range(repo, commit, path, 0, 8))
            .order(ByteOrder.LITTLE_ENDIAN)
            .getLong();
    if (n <= 0 || n > MAX_HEADER || (fileSize >= 0 && 8 + n > fileSize)) {
      throw new SaeLabException(
          repo
              + "/"
              + path
              + ": header length "
              + n
              + " is not plausible (file size "
              + fileSize
              + ", limit "
              + MAX_HEADER
              + ")");
    }
    try {
      return new Header(
          n,
          new ObjectMapper()
              .readTree(new String(hub.range(repo, commit, path, 8, n), StandardCharsets.UTF_8)));
    } catch (IOException e) {
      throw new SaeLabException(
          repo + "/" + path + ": the safetensors header is not valid JSON: " + e.getMessage());
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
    record Want(String name, JsonNode info, long begin, long end) {}
    List<Want> wants = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = h.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().equals("__metadata__") || !keep.test(e.getKey())) {
        continue;
      }
      JsonNode off = e.getValue().path("data_offsets");
      if (!off.isArray()
          || off.size() != 2
          || !off.get(0).canConvertToLong()
          || !off.get(1).canConvertToLong()) {
        throw new SaeLabException(
            repo + "/" + path + ": tensor '" + e.getKey() + "' has no valid data_offsets");
      }
      long b = off.get(0).asLong();
      long en = off.get(1).asLong();
      if (b < 0 || en < b || (size >= 0 && dataStart + en > size)) {
        throw new SaeLabException(
            repo
                + "/"
                + path
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
      wants.add(new Want(e.getKey(), e.getValue(), b, en));
    }
    wants.sort(Comparator.comparingLong(Want::begin));
    ObjectMapper om = new ObjectMapper();
    ObjectNode out = om.createObjectNode();
    long pos = 0;
    for (Want w : wants) {
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
    return wants.stream().map(Want::name).toList();
  }
}
