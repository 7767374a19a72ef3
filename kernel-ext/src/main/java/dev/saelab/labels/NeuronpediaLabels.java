package dev.saelab.labels;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.io.SaeLabException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * Reads Neuronpedia label exports.
 *
 * <ul>
 *   <li>The old JSON export ({@code
 *       {"explanations":[{"modelId","layer","index":"12","description",...}]}}), as used by J
 *       Bostock's post: index is a string, descriptions often start with a space, some features
 *       have two explanations and some none.
 *   <li>The current bulk export: a folder {@code .../explanations/} of {@code batch-N.jsonl.gz}
 *       files (or one such file), one explanation per line.
 * </ul>
 */
public final class NeuronpediaLabels {
  /** Exports larger than this are refused (the real 16k exports are 3.7 MB). */
  public static final long MAX_BYTES = 1L << 30;

  private static final ObjectMapper JSON = new ObjectMapper();

  private NeuronpediaLabels() {}

  /** Reads an export with the default policy ({@link FeatureLabels.Policy#NEWEST}). */
  public static FeatureLabels read(Path path) {
    return read(path, FeatureLabels.Policy.NEWEST);
  }

  /** Reads an old JSON export file, a bulk {@code .jsonl.gz} batch, or a folder of batches. */
  public static FeatureLabels read(Path path, FeatureLabels.Policy policy) {
    if (Files.isDirectory(path)) {
      Path dir =
          Files.isDirectory(path.resolve("explanations")) ? path.resolve("explanations") : path;
      List<Path> batches;
      try (Stream<Path> s = Files.list(dir)) {
        batches =
            s.filter(p -> p.getFileName().toString().matches("batch-\\d+\\.jsonl(\\.gz)?"))
                .sorted((a, b) -> Integer.compare(batchNo(a), batchNo(b)))
                .toList();
      } catch (IOException e) {
        throw SaeLabException.inFile(path, "cannot list: " + e.getMessage());
      }
      if (batches.isEmpty()) {
        throw SaeLabException.inFile(
            path, "no batch-N.jsonl.gz files: not a Neuronpedia bulk export folder");
      }
      Acc acc = new Acc();
      for (Path b : batches) {
        readJsonl(b, acc);
      }
      return acc.fromLayout(dir.toAbsolutePath()).build(path.toString(), policy);
    }
    if (!Files.isRegularFile(path)) {
      throw SaeLabException.inFile(path, "no such file or folder");
    }
    String name = path.getFileName().toString();
    Acc acc = new Acc();
    if (name.endsWith(".jsonl.gz") || name.endsWith(".jsonl")) {
      readJsonl(path, acc);
      acc.fromLayout(path.toAbsolutePath().getParent());
    } else {
      readOldExport(path, acc);
    }
    return acc.build(path.toString(), policy);
  }

  private static int batchNo(Path p) {
    String n = p.getFileName().toString();
    return Integer.parseInt(n.substring(6, n.indexOf('.')));
  }

  private static void readOldExport(Path file, Acc acc) {
    JsonNode root;
    try {
      if (Files.size(file) > MAX_BYTES) {
        throw SaeLabException.inFile(
            file, "over " + MAX_BYTES + " bytes: too large for a label export");
      }
      if (Files.size(file) == 0) {
        throw SaeLabException.inFile(
            file, "empty file, expected a Neuronpedia export {\"explanations\": [...]}");
      }
      try (JsonParser p = JSON.createParser(file.toFile())) {
        root = JSON.readTree(p);
      }
    } catch (JsonProcessingException e) {
      throw SaeLabException.inFile(file, "not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw SaeLabException.inFile(file, "cannot read: " + e.getMessage());
    }
    JsonNode list = root == null ? null : root.get("explanations");
    if (list == null || !list.isArray()) {
      throw SaeLabException.inFile(file, "missing array 'explanations': not a Neuronpedia export");
    }
    for (int k = 0; k < list.size(); k++) {
      acc.add(file, "explanations[" + k + "]", list.get(k));
    }
  }

  private static void readJsonl(Path file, Acc acc) {
    try (InputStream raw = Files.newInputStream(file);
        InputStream in = file.toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw;
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      String line;
      int no = 0;
      long bytes = 0;
      while ((line = r.readLine()) != null) {
        no++;
        bytes += line.length();
        if (bytes > MAX_BYTES) {
          throw SaeLabException.inFile(
              file, "over " + MAX_BYTES + " bytes uncompressed: too large");
        }
        if (line.isBlank()) {
          continue;
        }
        JsonNode n;
        try {
          n = JSON.readTree(line);
        } catch (JsonProcessingException e) {
          throw SaeLabException.inFile(
              file, "line " + no + " is not valid JSON: " + e.getOriginalMessage());
        }
        acc.add(file, "line " + no, n);
      }
    } catch (IOException e) {
      throw SaeLabException.inFile(file, "cannot read: " + e.getMessage());
    }
  }

  /** Accumulates explanations and the model/source ids. */
  private static final class Acc {
    final Map<Integer, List<Explanation>> byIndex = new LinkedHashMap<>();
    String modelId;
    String sourceId;

    void add(Path file, String where, JsonNode n) {
      if (n == null || !n.isObject()) {
        throw SaeLabException.inFile(file, where + ": expected an object");
      }
      JsonNode idx = n.get("index");
      int index;
      if (idx == null || idx.isNull()) {
        throw SaeLabException.inFile(file, where + ": missing field 'index'");
      }
      try {
        index = idx.isIntegralNumber() ? idx.intValue() : Integer.parseInt(idx.asText().strip());
      } catch (NumberFormatException e) {
        throw SaeLabException.inFile(
            file,
            where + ": field 'index' is \"" + idx.asText() + "\", expected a non-negative integer");
      }
      if (index < 0) {
        throw SaeLabException.inFile(
            file, where + ": field 'index' is " + index + ", expected >= 0");
      }
      modelId = same(file, where, "modelId", modelId, n);
      sourceId = same(file, where, "layer", sourceId, n);
      String raw = n.hasNonNull("description") ? n.get("description").asText() : "";
      String explainer =
          n.hasNonNull("explanationModelName")
              ? n.get("explanationModelName").asText()
              : n.hasNonNull("autoInterpModel") ? n.get("autoInterpModel").asText() : "";
      String type = n.hasNonNull("typeName") ? n.get("typeName").asText() : "";
      String created = n.hasNonNull("createdAt") ? n.get("createdAt").asText() : "";
      byIndex
          .computeIfAbsent(index, i -> new ArrayList<>())
          .add(new Explanation(index, raw.strip(), explainer, type, created, raw));
    }

    /**
     * The export's value of {@code field}: one export holds one SAE's labels, so every record must
     * agree.
     */
    private static String same(Path file, String where, String field, String seen, JsonNode n) {
      if (!n.hasNonNull(field)) {
        return seen;
      }
      String v = n.get(field).asText();
      if (seen != null && !seen.equals(v)) {
        throw SaeLabException.inFile(
            file,
            where
                + ": "
                + field
                + " \""
                + v
                + "\" differs from \""
                + seen
                + "\" of the records before it; one export must hold the labels of one SAE");
      }
      return v;
    }

    /**
     * Model and source from the bulk export's layout {@code MODEL/SOURCE/explanations/}, where
     * records lack them.
     */
    Acc fromLayout(Path explanations) {
      Path source =
          explanations.getFileName() != null
                  && explanations.getFileName().toString().equals("explanations")
              ? explanations.getParent()
              : null;
      if (source != null
          && source.getFileName() != null
          && source.getParent() != null
          && source.getParent().getFileName() != null) {
        modelId = modelId != null ? modelId : source.getParent().getFileName().toString();
        sourceId = sourceId != null ? sourceId : source.getFileName().toString();
      }
      return this;
    }

    FeatureLabels build(String origin, FeatureLabels.Policy policy) {
      return new FeatureLabels(modelId, sourceId, origin, byIndex, policy);
    }
  }
}
