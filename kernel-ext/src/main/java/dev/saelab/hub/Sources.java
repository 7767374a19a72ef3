package dev.saelab.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saelab.io.SaeLabException;
import dev.saelab.sae.SaeDictionary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Turns what a user names into local paths: a local file or folder as is; an SAE by release name
 * ({@code gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical}); a model by alias; and
 * anything on the Hugging Face Hub by {@code hf://ORG/REPO[@REV][/PATH]} ({@link HfPath}; {@code
 * hf://datasets/…} for a dataset): a model folder (only one layer's attention tensors, by Range
 * requests), an SAE folder or file (its safetensors weights only as far as the caller needs them),
 * Neuronpedia labels; also Neuronpedia labels as {@code neuronpedia://MODEL/SOURCE} (the public
 * bulk export). Whole files go to the Hub cache ({@link Hub}), partial copies to {@code
 * {cache}/saelab-partial/}. Errors are one line naming the repository, revision and path.
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
   * The matrices an SAE in {@code role} is read for: the decoder ({@code W_dec}) on the input and
   * key sides ({@code in}, {@code key}), the encoder ({@code W_enc}) on the output side ({@code
   * out}); for {@link #sae(String, Set)}.
   */
  public static Set<String> matricesFor(String role) {
    return switch (role) {
      case "in", "key" -> Set.of("W_dec");
      case "out" -> Set.of("W_enc");
      default ->
          throw new IllegalArgumentException("SAE role " + role + ": expected in, key or out");
    };
  }

  /**
   * An SAE, whole: a local path as is; {@code RELEASE/ID} from the registry or {@code
   * hf://ORG/REPO[@REV]/PATH} downloaded into the Hub cache (see {@link #sae(String, Set)}).
   */
  public Path sae(String spec) {
    return sae(spec, null);
  }

  /**
   * An SAE: a local path as is; {@code RELEASE/ID} from the registry; or {@code
   * hf://ORG/REPO[@REV]/PATH} (also {@code hf://datasets/…}), PATH a folder or file in one of the
   * formats {@code SaeDictionary} reads: a Gemma Scope {@code params.npz}, a Gemma Scope 2 {@code
   * params.safetensors} (with {@code config.json} when the folder has one), a SAELens folder
   * ({@code cfg.json} + {@code sae_weights.safetensors}). A folder's format is found by HEAD
   * requests for those names, in that order. Returns the local counterpart of what was named (a
   * SAELens {@code cfg.json} → its folder).
   *
   * <p>With {@code matrices} null, or for {@code .npz}, whole files go to the Hub cache ({@code
   * models--ORG--REPO/snapshots/{commit}/PATH}, shared with {@code huggingface_hub}). Otherwise the
   * safetensors weights are read partially ({@link PartialSafetensors#fill}): every tensor of rank
   * below 2 (biases, thresholds) and the named matrices ({@code W_dec}, {@code W_enc}; {@code
   * w_dec} and {@code w_enc} match them), into {@code
   * {cache}/saelab-partial/models--ORG--REPO/{commit}/sae/PATH}, where the other matrices read as
   * zeros; a later call naming another matrix adds it. A weights file already whole in the Hub
   * cache is used as it is.
   *
   * @param matrices the canonical names of the matrices needed ({@link #matricesFor}), or null for
   *     the whole SAE
   */
  public Path sae(String spec, Set<String> matrices) {
    if (spec.startsWith("hf://")) {
      return remoteSae(HfPath.parse(spec), null, matrices);
    }
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
                + "; or hf://ORG/REPO[@REV]/PATH for any SAE on the Hub)");
      }
      return local;
    }
    Registry.SaeRef ref = registry.sae(spec);
    return remoteSae(new HfPath(ref.repo(), "main", ref.path()), ref.format(), matrices);
  }

  /**
   * What an SAE on the Hub consists of.
   *
   * @param folder the folder in the repository
   * @param required file names in the folder that must exist
   * @param optional file names fetched when they exist
   * @param weights the safetensors file among {@code required} that may be read partially, or null
   * @param result the file or folder to return
   */
  private record SaeFiles(
      String folder, List<String> required, List<String> optional, String weights, String result) {
    static SaeFiles of(String format, String folder, String result) {
      return switch (format) {
        case "gemma-scope" -> new SaeFiles(folder, List.of(GS), List.of(), null, result);
        case "gemma-scope-2" -> new SaeFiles(folder, List.of(GS2), List.of(GS2_CFG), GS2, result);
        default -> new SaeFiles(folder, List.of(SL_CFG, SL), List.of(), SL, result);
      };
    }

    String in(String name) {
      return folder.isEmpty() ? name : folder + "/" + name;
    }
  }

  private static final String GS = "params.npz";
  private static final String GS2 = "params.safetensors";
  private static final String GS2_CFG = "config.json";
  private static final String SL = "sae_weights.safetensors";
  private static final String SL_CFG = "cfg.json";

  private Path remoteSae(HfPath at, String format, Set<String> matrices) {
    Map<String, Hub.FileMeta> metas = new LinkedHashMap<>();
    SaeFiles files;
    String name = at.name();
    if (name.equals(GS)) {
      files = SaeFiles.of("gemma-scope", at.parent(), at.path());
    } else if (name.equals(GS2)) {
      files = SaeFiles.of("gemma-scope-2", at.parent(), at.path());
    } else if (name.equals(SL)) {
      files = SaeFiles.of("saelens", at.parent(), at.path());
    } else if (name.equals(SL_CFG)) {
      files = SaeFiles.of("saelens", at.parent(), at.parent());
    } else if (format != null) {
      files = SaeFiles.of(format, at.path(), at.path());
    } else {
      // a folder: the first of SaeDictionary's formats whose file is there
      files = null;
      String[][] probes = {{GS, "gemma-scope"}, {SL_CFG, "saelens"}, {GS2, "gemma-scope-2"}};
      for (String[] p : probes) {
        Optional<Hub.FileMeta> m = hub.find(at.repo(), at.revision(), at.child(p[0]));
        if (m.isPresent()) {
          files = SaeFiles.of(p[1], at.path(), at.path());
          metas.put(p[0], m.get());
          break;
        }
      }
      if (files == null) {
        throw new SaeLabException(
            at
                + ": "
                + at.repo()
                + (at.revision().equals("main") ? "" : "@" + at.revision())
                + " has no SAE at "
                + (at.path().isEmpty() ? "its root" : at.path())
                + " (none of "
                + at.child(GS)
                + ", "
                + at.child(SL_CFG)
                + " + "
                + SL
                + ", "
                + at.child(GS2)
                + " is there: HTTP 404 from "
                + hub.authority()
                + ")");
      }
    }
    // one commit for every file: the first one's
    String commit = metas.isEmpty() ? null : metas.values().iterator().next().commit();
    for (String f : files.required()) {
      if (!metas.containsKey(f)) {
        Hub.FileMeta m = hub.head(at.repo(), commit == null ? at.revision() : commit, files.in(f));
        commit = commit == null ? m.commit() : commit;
        metas.put(f, m);
      }
    }
    for (String f : files.optional()) {
      hub.find(at.repo(), commit, files.in(f)).ifPresent(m -> metas.put(f, m));
    }
    hub.ref(at.repo(), at.revision(), commit);
    Path snapshot = hub.repoFolder(at.repo()).resolve("snapshots").resolve(commit);
    boolean partial =
        matrices != null
            && files.weights() != null
            && hub.cached(at.repo(), commit, files.in(files.weights())).isEmpty();
    if (!partial) {
      for (Map.Entry<String, Hub.FileMeta> e : metas.entrySet()) {
        hub.download(at.repo(), commit, files.in(e.getKey()), e.getValue());
      }
      return resolve(snapshot, files.result());
    }
    Path base =
        hub.cache()
            .resolve("saelab-partial")
            .resolve(Hub.repoFolderName(at.repo()))
            .resolve(commit);
    Path dest = resolve(base.resolve("sae"), files.folder());
    try {
      for (Map.Entry<String, Hub.FileMeta> e : metas.entrySet()) {
        if (e.getKey().equals(files.weights())) {
          continue;
        }
        Path small = hub.download(at.repo(), commit, files.in(e.getKey()), e.getValue());
        Path copy = dest.resolve(e.getKey());
        if (!Files.isRegularFile(copy) || Files.size(copy) != Files.size(small)) {
          Files.createDirectories(dest);
          Files.copy(small, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
    } catch (IOException e) {
      throw new SaeLabException("preparing " + dest + ": " + e.getMessage());
    }
    String weights = files.in(files.weights());
    List<String> present =
        PartialSafetensors.fill(
            hub,
            at.repo(),
            commit,
            weights,
            metas.get(files.weights()),
            (n, shape) ->
                shape.length < 2
                    || matrices.contains(n.startsWith("w_") ? "W_" + n.substring(2) : n),
            dest.resolve(files.weights()),
            resolve(base.resolve("sae-state"), weights + ".json"));
    // beside the copy: the tensors it holds, so that reading another one is an error, not zeros
    Path marker = dest.resolve(files.weights() + SaeDictionary.PARTIAL_SUFFIX);
    byte[] listing =
        ("hf://"
                + at.repo()
                + "@"
                + commit
                + "/"
                + weights
                + "\n"
                + String.join("\n", present)
                + "\n")
            .getBytes(java.nio.charset.StandardCharsets.UTF_8);
    try {
      dev.saelab.io.AtomicFiles.write(marker, os -> os.write(listing));
    } catch (IOException e) {
      throw new SaeLabException("writing " + marker + ": " + e.getMessage());
    }
    return resolve(base.resolve("sae"), files.result());
  }

  /** {@code base/path} ({@code path} checked by {@link HfPath}: relative, no {@code ..}). */
  private static Path resolve(Path base, String path) {
    return path.isEmpty() ? base : base.resolve(path);
  }

  /**
   * A model folder holding at least {@code layer}'s attention: a local folder as is; {@code
   * hf://ORG/NAME[@REV][/FOLDER]} or a registry alias → config.json (and index) from the Hub cache
   * plus a partial copy of just that layer's attention and norm tensors, in {@code
   * {cache}/saelab-partial/models--ORG--NAME/{commit}/[FOLDER/]layer_L}. {@code layer} may be null
   * only for local folders.
   */
  public Path model(String spec, Integer layer) {
    if (!spec.startsWith("hf://")
        && (Files.exists(Path.of(spec)) || !registry.models().contains(spec))) {
      return Path.of(spec);
    }
    HfPath at;
    String bare = spec.startsWith("hf://") ? spec.substring(5).replaceFirst("@.*", "") : spec;
    if (!bare.contains("/")) {
      // an alias, also as hf://ALIAS[@REV]
      int a = spec.indexOf('@');
      at = new HfPath(registry.model(bare).repo(), a < 0 ? "main" : spec.substring(a + 1), "");
    } else {
      at = HfPath.parse(spec);
    }
    if (layer == null) {
      throw new IllegalArgumentException(
          "remote model "
              + spec
              + ": give the layer to fetch (only that layer's"
              + " attention tensors are downloaded)");
    }
    String repo = at.repo();
    String prefix = at.path().isEmpty() ? "" : at.path() + "/";
    Hub.FileMeta cm = hub.head(repo, at.revision(), prefix + "config.json");
    String commit = cm.commit();
    Path config = hub.download(repo, at.revision(), prefix + "config.json", cm);
    Path dest =
        resolve(
                hub.cache()
                    .resolve("saelab-partial")
                    .resolve(Hub.repoFolderName(repo))
                    .resolve(commit),
                at.path())
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
        Path index = hub.download(repo, commit, prefix + "model.safetensors.index.json");
        JsonNode wm = new ObjectMapper().readTree(Files.readAllBytes(index)).path("weight_map");
        wm.fields()
            .forEachRemaining(
                e -> weightMap.put(e.getKey(), HfPath.checkPath(e.getValue().asText())));
        sharded = true;
      } catch (SaeLabException notSharded) {
        if (!notSharded.getMessage().contains("HTTP 404")) {
          throw notSharded;
        }
        for (String n : PartialSafetensors.names(hub, repo, commit, prefix + "model.safetensors")) {
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
            PartialSafetensors.fetch(
                hub, repo, commit, prefix + shard, keep, dest.resolve(shard))) {
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
   * Neuronpedia labels: a local path as is; {@code neuronpedia://MODEL/SOURCE} → the public bulk
   * export's {@code v1/MODEL/SOURCE/explanations/batch-N.jsonl.gz} files, cached under {@code
   * {cache}/saelab-neuronpedia/}; or {@code hf://[datasets/]ORG/REPO[@REV]/PATH}, PATH an export
   * file ({@code .json}, {@code .jsonl}, {@code .jsonl.gz}) or a bulk-export folder ({@code
   * MODEL/SOURCE} holding {@code explanations/batch-N.jsonl.gz}, or the {@code explanations} folder
   * itself), downloaded into the Hub cache: batches 0, 1, … until the first missing one.
   */
  public Path labels(String spec) {
    if (spec.startsWith("hf://")) {
      return remoteLabels(HfPath.parse(spec));
    }
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

  private Path remoteLabels(HfPath at) {
    if (at.path().isEmpty()) {
      throw new IllegalArgumentException(
          at + ": name the export's file or folder in the repository, " + HfPath.SYNTAX);
    }
    String name = at.name();
    if (name.endsWith(".json") || name.endsWith(".jsonl") || name.endsWith(".gz")) {
      Hub.FileMeta m = hub.head(at.repo(), at.revision(), at.path());
      hub.ref(at.repo(), at.revision(), m.commit());
      return hub.download(at.repo(), m.commit(), at.path(), m);
    }
    List<String> dirs =
        name.equals("explanations")
            ? List.of(at.path())
            : List.of(at.child("explanations"), at.path());
    for (String dir : dirs) {
      for (String ext : new String[] {".jsonl.gz", ".jsonl"}) {
        Optional<Hub.FileMeta> first = hub.find(at.repo(), at.revision(), dir + "/batch-0" + ext);
        if (first.isEmpty()) {
          continue;
        }
        String commit = first.get().commit();
        hub.ref(at.repo(), at.revision(), commit);
        Optional<Hub.FileMeta> m = first;
        for (int n = 0; m.isPresent(); n++) {
          hub.download(at.repo(), commit, dir + "/batch-" + n + ext, m.get());
          m = hub.find(at.repo(), commit, dir + "/batch-" + (n + 1) + ext);
        }
        return hub.repoFolder(at.repo()).resolve("snapshots").resolve(commit).resolve(at.path());
      }
    }
    throw new SaeLabException(
        at
            + ": "
            + at.repo()
            + (at.revision().equals("main") ? "" : "@" + at.revision())
            + " has no Neuronpedia export at "
            + at.path()
            + " (no batch-0.jsonl.gz in it or in "
            + at.child("explanations")
            + ", and not a .json/.jsonl/.jsonl.gz file: HTTP 404 from "
            + hub.authority()
            + ")");
  }
}
