package dev.saelab.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.io.SaeLabException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The real releases SAE Lab knows by name ({@code datasets/registry.json}, also bundled in the
 * jar): Gemma Scope (canonical 16k residual SAEs of every Gemma 2 2B layer, e.g. {@code
 * gemma-scope-2b-pt-res-canonical/ layer_12/width_16k/canonical} → {@code
 * layer_12/width_16k/average_l0_82}), GPT-2 small's res-jb SAEs, and the models ({@code gemma-2-2b}
 * → {@code google/gemma-2-2b}). Unknown names get the nearest valid ones in the message.
 */
public final class Registry {
  /**
   * An SAE in a release.
   *
   * @param release release name
   * @param id SAE id within the release
   * @param repo Hugging Face repository
   * @param path folder inside the repository
   * @param format {@code gemma-scope} (params.npz) or {@code saelens} (cfg.json +
   *     sae_weights.safetensors)
   * @param model the model alias
   * @param neuronpedia Neuronpedia {@code modelId/sourceId}, or null
   */
  public record SaeRef(
      String release,
      String id,
      String repo,
      String path,
      String format,
      String model,
      String neuronpedia) {
    /** The files to fetch for this SAE. */
    public List<String> files() {
      return switch (format) {
        case "gemma-scope" -> List.of(path + "/params.npz");
        case "gemma-scope-2" -> List.of(path + "/params.safetensors");
        default -> List.of(path + "/cfg.json", path + "/sae_weights.safetensors");
      };
    }
  }

  /**
   * A model.
   *
   * @param alias short name
   * @param repo Hugging Face repository
   * @param gated whether the repository needs an accepted licence and a token
   * @param access how to get access (gated repositories)
   */
  public record ModelRef(String alias, String repo, boolean gated, String access) {}

  private final JsonNode root;

  private Registry(JsonNode root) {
    this.root = root;
  }

  /** The bundled registry (the jar's copy of {@code datasets/registry.json}). */
  public static Registry bundled() {
    try (InputStream in = Registry.class.getResourceAsStream("/dev/saelab/hub/registry.json")) {
      if (in == null) {
        throw new IllegalStateException("registry.json is missing from the jar");
      }
      return new Registry(new ObjectMapper().readTree(in));
    } catch (IOException e) {
      throw new IllegalStateException("cannot read the bundled registry: " + e.getMessage(), e);
    }
  }

  /** A registry file. */
  public static Registry read(Path file) {
    try {
      return new Registry(new ObjectMapper().readTree(Files.readAllBytes(file)));
    } catch (IOException e) {
      throw SaeLabException.inFile(file, "not a registry JSON file: " + e.getMessage());
    }
  }

  /** Release names. */
  public List<String> releases() {
    return names(root.path("releases"));
  }

  /** Model aliases. */
  public List<String> models() {
    return names(root.path("models"));
  }

  /** Whether {@code spec} looks like {@code RELEASE/ID} for a known release. */
  public boolean isSaeName(String spec) {
    int slash = spec.indexOf('/');
    return slash > 0 && root.path("releases").has(spec.substring(0, slash));
  }

  /** Resolves {@code RELEASE/ID}. */
  public SaeRef sae(String spec) {
    int slash = spec.indexOf('/');
    if (slash <= 0) {
      throw new IllegalArgumentException(
          "SAE name '"
              + spec
              + "': expected RELEASE/ID, e.g."
              + " gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical");
    }
    return sae(spec.substring(0, slash), spec.substring(slash + 1));
  }

  /** Resolves an SAE by release and id. */
  public SaeRef sae(String release, String id) {
    JsonNode r = root.path("releases").get(release);
    if (r == null) {
      throw new IllegalArgumentException(
          "unknown release '" + release + "'; nearest: " + nearest(release, releases()));
    }
    JsonNode s = r.path("saes").get(id);
    if (s == null && r.has("saes_pattern")) {
      s = fromPattern(release, r.get("saes_pattern"), id);
    }
    if (s == null) {
      throw new IllegalArgumentException(
          "release "
              + release
              + " has no SAE '"
              + id
              + "'; nearest: "
              + nearest(id, names(r.path("saes"))));
    }
    return new SaeRef(
        release,
        id,
        r.get("repo").asText(),
        s.get("path").asText(),
        r.get("format").asText(),
        r.path("model").asText(null),
        s.path("neuronpedia").asText(null));
  }

  /** Resolves a model alias ({@code gemma-2-2b}) or repository ({@code google/gemma-2-2b}). */
  /**
   * A release given as a pattern (Gemma Scope 2: {@code layer_{L}_width_{W}_l0_{S}} over its
   * layers, widths and L0 buckets): the SAE entry of {@code id}, or an error listing what exists.
   */
  private static JsonNode fromPattern(String release, JsonNode pat, String id) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("layer_(\\d+)_width_(\\w+?)_l0_(\\w+)").matcher(id);
    List<Integer> layers = new ArrayList<>();
    if (pat.has("layers_list")) {
      pat.get("layers_list").forEach(n -> layers.add(n.asInt()));
    } else {
      for (int l = pat.path("layers").get(0).asInt(); l <= pat.path("layers").get(1).asInt(); l++) {
        layers.add(l);
      }
    }
    List<String> l0 = new ArrayList<>();
    pat.path("l0").forEach(n -> l0.add(n.asText()));
    if (!m.matches()
        || !layers.contains(Integer.parseInt(m.group(1)))
        || !pat.path("widths").has(m.group(2))
        || !l0.contains(m.group(3))) {
      throw new IllegalArgumentException(
          "release "
              + release
              + " has no SAE '"
              + id
              + "': ids are layer_{L}_width_{W}_l0_{S} with L in "
              + (layers.size() > 6
                  ? layers.get(0) + ".." + layers.get(layers.size() - 1)
                  : layers.toString())
              + ", W in "
              + names(pat.path("widths"))
              + ", S in "
              + l0);
    }
    com.fasterxml.jackson.databind.node.ObjectNode o = new ObjectMapper().createObjectNode();
    o.put(
        "path",
        pat.get("path")
            .asText()
            .replace("{L}", m.group(1))
            .replace("{W}", m.group(2))
            .replace("{S}", m.group(3)));
    o.put("layer", Integer.parseInt(m.group(1)));
    o.put("width", pat.path("widths").get(m.group(2)).asLong());
    return o;
  }

  public ModelRef model(String nameOrRepo) {
    for (Iterator<Map.Entry<String, JsonNode>> it = root.path("models").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().equals(nameOrRepo) || e.getValue().path("repo").asText().equals(nameOrRepo)) {
        return new ModelRef(
            e.getKey(),
            e.getValue().path("repo").asText(),
            e.getValue().path("gated").asBoolean(),
            e.getValue().path("access").asText(""));
      }
    }
    if (nameOrRepo.contains("/")) {
      return new ModelRef(nameOrRepo, nameOrRepo, false, "");
    }
    throw new IllegalArgumentException(
        "unknown model '"
            + nameOrRepo
            + "'; nearest: "
            + nearest(nameOrRepo, models())
            + " (or hf://ORG/NAME for any Hugging Face repository)");
  }

  private static List<String> names(JsonNode n) {
    List<String> out = new ArrayList<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }

  /** The three valid names closest to {@code s} by edit distance. */
  static String nearest(String s, List<String> valid) {
    return String.join(
        ", ",
        valid.stream()
            .sorted(Comparator.comparingInt((String v) -> distance(s, v)).thenComparing(v -> v))
            .limit(3)
            .toList());
  }

  /** Levenshtein distance. */
  static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
