package dev.saelab.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Small JSON helpers: reading a bounded file into a tree, and typed field access with file-naming
 * errors.
 */
public final class Json {
  /**
   * JSON config files larger than this are refused (real config.json / cfg.json files are a few
   * KB).
   */
  public static final long MAX_CONFIG_BYTES = 64L << 20;

  static final ObjectMapper MAPPER = new ObjectMapper();

  private Json() {}

  /** Reads a JSON file, refusing anything over {@link #MAX_CONFIG_BYTES}; errors name the file. */
  public static JsonNode read(Path file) {
    try {
      long size = Files.size(file);
      if (size > MAX_CONFIG_BYTES) {
        throw SaeLabException.inFile(
            file, size + " bytes is too large for a JSON config (limit " + MAX_CONFIG_BYTES + ")");
      }
      JsonNode n = MAPPER.readTree(Files.readAllBytes(file));
      if (n == null || n.isMissingNode()) {
        throw SaeLabException.inFile(file, "empty file, expected a JSON object");
      }
      return n;
    } catch (JsonProcessingException e) {
      throw SaeLabException.inFile(file, "not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw SaeLabException.inFile(file, "cannot read: " + e.getMessage());
    }
  }

  /** A required integer field. */
  public static long requireLong(Path file, JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v == null || !v.isIntegralNumber()) {
      throw SaeLabException.inFile(
          file,
          "field '"
              + field
              + "' must be an integer, got "
              + (v == null ? "nothing" : v.toString()));
    }
    return v.asLong();
  }

  /** An optional integer field. */
  public static long optLong(JsonNode n, String field, long dflt) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() ? dflt : v.asLong(dflt);
  }

  /** An optional number field. */
  public static double optDouble(JsonNode n, String field, double dflt) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() || !v.isNumber() ? dflt : v.asDouble();
  }

  /** An optional string field. */
  public static String optText(JsonNode n, String field, String dflt) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() ? dflt : v.asText();
  }
}
