package dev.saelab.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saelab.io.SaeLabException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Turns what a user names into local paths: a local file or folder as is; an SAE by release name
 * ({@code gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical}); a model by alias or
 * {@code hf://ORG/NAME[@REVISION]} (only one layer's attention tensors are fetched, by Range
 * requests); Neuronpedia labels as {@code neuronpedia://MODEL/SOURCE} (the public bulk export).
 * Downloads go to the Hub cache ({@link Hub}); the partial model folders to {@code
 * {cache}/saelab-partial/}.
 */
public final class Sources {
  private static final Pattern LAYER_TENSOR =
      Pattern.compile(
          "(^|\\.)(layers|h)\\.(\\d+)\\.(self_attn|attn|input_layernorm|post_attention_layernorm|ln_1)\\b.*");

  private final Hub hub;
  private final Registry registry;
  private final String neuronpediaBase;

  /**
   * @param hub the Hub client
   * @param registry the release registry
   * @param neuronpediaBase base URL of Neuronpedia's public exports bucket
   */
  public Sources(Hub hub, Registry registry, String neuronpediaBase) {
    this.hub = hub;
    this.registry = registry;
    this.neuronpediaBase = neuronpediaBase.replaceAll("/+$", "");
  }

  /**
   * The default: the Hub from the environment, the bundled registry, {@code
   * NEURONPEDIA_DATASETS_URL} or S3.
   */
  public static Sources fromEnvironment() {
    String np =
        System.getProperty(
            "saelab.NEURONPEDIA_DATASETS_URL",
            System.getenv()
                .getOrDefault(
                    "NEURONPEDIA_DATASETS_URL",
                    "https://neuronpedia-datasets.s3.us-east-1.amazonaws.com"));
    return new Sources(Hub.fromEnvironment(), Registry.bundled(), np);
  }

  /**
   * Whether {@code spec} names something remote (so a missing local path is not an error by
   * itself).
   */
  public boolean isRemote(String spec) {
    return spec.startsWith("hf://")
        || spec.startsWith("neuronpedia://")
        || registry.isSaeName(spec)
        || registry.models().contains(spec);
  }

  /**
   * An SAE: a local path, or {@code RELEASE/ID} from the registry (downloaded into the Hub cache).
   */
  public Path sae(String spec) {
    Path local = Path.of(spec);
    // a transcoder set takes a selector after '#' (DIR#layer=i, DIR#writes=L): the folder must
    // exist
    int hash = spec.indexOf('#');
    if (Files.exists(local) || (hash > 0 && Files.isDirectory(Path.of(spec.substring(0, hash))))) {
      return local;
    }
    if (!registry.isSaeName(spec)) {
      if (spec.contains("/") && !spec.startsWith("/") && !spec.startsWith(".")) {
        String release = spec.substring(0, spec.indexOf('/'));
        throw new SaeLabException(
            spec
                + " is neither a file or folder nor a known release (nearest: "
                + Registry.nearest(release, registry.releases())
                + ")");
      }
      return local;
    }
    Registry.SaeRef ref = registry.sae(spec);
    Path last = null;
    for (String f : ref.files()) {
      last = hub.download(ref.repo(), "main", f);
    }
    return last.getParent();
  }

  /**
   * A model folder holding at least {@code layer}'s attention: a local folder as is; {@code
   * hf://ORG/NAME[@REV]} or a registry alias → config.json (and index) from the Hub cache plus a
   * partial copy of just that layer's attention and norm tensors. {@code layer} may be null only
   * for local folders.
   */
  public Path model(String spec, Integer layer) {
    String s = spec.startsWith("hf://") ? spec.substring(5) : spec;
    if (!spec.startsWith("hf://")
        && (Files.exists(Path.of(spec)) || !registry.models().contains(spec))) {
      return Path.of(spec);
    }
    String revision = "main";
    int at = s.indexOf('@');
    if (at > 0) {
      revision = s.substring(at + 1);
      s = s.substring(0, at);
    }
    Registry.ModelRef ref = registry.model(s);
    if (layer == null) {
      throw new IllegalArgumentException(
          "remote model "
              + spec
              + ": give the layer to fetch (only that layer's"
              + " attention tensors are downloaded)");
    }
    String repo = ref.repo();
    Path config = hub.download(repo, revision, "config.json");
    String commit = config.getParent().getFileName().toString();
    Path dest =
        hub.cache()
            .resolve("saelab-partial")
            .resolve("models--" + repo.replace("/", "--"))
            .resolve(commit)
            .resolve("layer_" + layer);
    if (Files.isRegularFile(dest.resolve(".complete"))) {
      return dest;
    }
    try {
      Files.createDirectories(dest);
      Files.copy(
          config, dest.resolve("config.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      Map<String, String> weightMap = new LinkedHashMap<>();
      boolean sharded;
      try {
        Path index = hub.download(repo, commit, "model.safetensors.index.json");
        JsonNode wm = new ObjectMapper().readTree(Files.readAllBytes(index)).path("weight_map");
        wm.fields().forEachRemaining(e -> weightMap.put(e.getKey(), e.getValue().asText()));
        sharded = true;
      } catch (SaeLabException notSharded) {
        if (!notSharded.getMessage().contains("HTTP 404")) {
          throw notSharded;
        }
        for (String n : PartialSafetensors.names(hub, repo, commit, "model.safetensors")) {
          weightMap.put(n, "model.safetensors");
        }
        sharded = false;
      }
      final int l = layer;
      java.util.function.Predicate<String> keep =
          n -> {
            var m = LAYER_TENSOR.matcher(n);
            return m.find() && Integer.parseInt(m.group(3)) == l;
          };
      TreeSet<String> shards = new TreeSet<>();
      weightMap.forEach(
          (n, f) -> {
            if (keep.test(n)) {
              shards.add(f);
            }
          });
      if (shards.isEmpty()) {
        throw new SaeLabException(repo + " has no attention tensors for layer " + layer);
      }
      ObjectNode newMap = new ObjectMapper().createObjectNode();
      for (String shard : shards) {
        for (String n :
            PartialSafetensors.fetch(hub, repo, commit, shard, keep, dest.resolve(shard))) {
          newMap.put(n, shard);
        }
      }
      if (sharded) {
        ObjectNode idx = new ObjectMapper().createObjectNode();
        idx.putObject("metadata")
            .put("saelab_partial", "layer " + layer + " attention of " + repo + "@" + commit);
        idx.set("weight_map", newMap);
        Files.writeString(dest.resolve("model.safetensors.index.json"), idx.toPrettyString());
      }
      Files.writeString(dest.resolve(".complete"), repo + "@" + commit + " layer " + layer + "\n");
      return dest;
    } catch (IOException e) {
      throw new SaeLabException("preparing " + dest + ": " + e.getMessage());
    }
  }

  /**
   * Neuronpedia labels: a local path as is, or {@code neuronpedia://MODEL/SOURCE} → the public bulk
   * export's {@code v1/MODEL/SOURCE/explanations/batch-N.jsonl.gz} files, cached under {@code
   * {cache}/saelab-neuronpedia/}.
   */
  public Path labels(String spec) {
    if (!spec.startsWith("neuronpedia://")) {
      return Path.of(spec);
    }
    String id = spec.substring("neuronpedia://".length());
    if (!id.matches("[A-Za-z0-9._-]+/[A-Za-z0-9._-]+")) {
      throw new IllegalArgumentException(
          "labels "
              + spec
              + ": expected neuronpedia://MODEL/SOURCE, e.g."
              + " neuronpedia://gemma-2-2b/12-gemmascope-res-16k");
    }
    Path dir =
        hub.cache().resolve("saelab-neuronpedia").resolve("v1").resolve(id).resolve("explanations");
    if (Files.isRegularFile(dir.resolve(".complete"))) {
      return dir;
    }
    var http =
        java.net.http.HttpClient.newBuilder()
            .followRedirects(java.net.http.HttpClient.Redirect.NORMAL)
            .build();
    try {
      Files.createDirectories(dir);
      int n = 0;
      for (; ; n++) {
        String name = "batch-" + n + ".jsonl.gz";
        Path f = dir.resolve(name);
        if (Files.isRegularFile(f)) {
          continue;
        }
        var req =
            java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(neuronpediaBase + "/v1/" + id + "/explanations/" + name))
                .build();
        Path tmp = dir.resolve(name + ".incomplete");
        var r = http.send(req, java.net.http.HttpResponse.BodyHandlers.ofFile(tmp));
        if (r.statusCode() == 404 || r.statusCode() == 403) {
          Files.deleteIfExists(tmp);
          if (n == 0) {
            throw new SaeLabException(
                "Neuronpedia has no export for "
                    + id
                    + " (HTTP "
                    + r.statusCode()
                    + " for "
                    + name
                    + ")");
          }
          break;
        }
        if (r.statusCode() != 200) {
          Files.deleteIfExists(tmp);
          throw new SaeLabException(
              "Neuronpedia export " + id + "/" + name + ": HTTP " + r.statusCode());
        }
        Files.move(tmp, f, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      }
      Files.writeString(dir.resolve(".complete"), n + " batches\n");
      return dir;
    } catch (IOException e) {
      throw new SaeLabException("downloading Neuronpedia labels " + id + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.util.concurrent.CancellationException("download interrupted");
    }
  }
}
