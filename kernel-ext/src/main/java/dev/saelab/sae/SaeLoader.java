package dev.saelab.sae;

import com.fasterxml.jackson.databind.JsonNode;
import dev.saelab.io.Json;
import dev.saelab.io.NpzFile;
import dev.saelab.io.SaeLabException;
import dev.saelab.io.SafetensorsFile;
import dev.saelab.io.TensorInfo;
import dev.saelab.io.TensorSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Recognises SAE folders and files (Gemma Scope, Gemma Scope 2, SAELens, Llama Scope,
 * circuit-tracer transcoder sets) and builds {@link SaeDictionary} objects.
 */
final class SaeLoader {
  private static final Pattern GEMMA_SCOPE =
      Pattern.compile(".*layer_(\\d+)/width_(\\w+)/average_l0_(\\d+).*");
  private static final Pattern HOOK_LAYER = Pattern.compile("blocks\\.(\\d+)\\.");

  /**
   * Gemma Scope repositories name their model: gemma-scope-2b-pt-res → gemma-2-2b,
   * gemma-scope-9b-it-res → -it.
   */
  private static final Pattern GEMMA_SCOPE_REPO = Pattern.compile("gemma-scope-(\\d+b)-(pt|it)-");

  /** The site of a Gemma Scope release folder: {@code gemma-scope-2b-pt-att}, {@code …-mlp}. */
  private static final Pattern GEMMA_SCOPE_SITE =
      Pattern.compile("gemma-scope-[^/]*?-(att|mlp)(?=[-_/]|$)");

  /** Gemma Scope 2: {@code {site}/layer_{L}_width_{W}_l0_{small|medium|big}/params.safetensors}. */
  private static final Pattern GEMMA_SCOPE_2 =
      Pattern.compile(
          ".*?(?:^|/)(\\w+?)/layer_(\\d+)_width_(\\w+)_l0_(\\w+)/params\\.safetensors$");

  private static final Pattern GEMMA_SCOPE_2_REPO =
      Pattern.compile("gemma-scope-2-(\\d+[mb])-(pt|it)");

  private SaeLoader() {}

  static SaeDictionary open(Path path) {
    TranscoderSets.Selector sel = TranscoderSets.Selector.parse(path);
    if (sel != null) {
      return TranscoderSets.open(sel);
    }
    if (Files.isDirectory(path)) {
      if (LlamaScope.isFolder(path)) {
        return LlamaScope.open(path);
      }
      if (TranscoderSets.isSet(path)) {
        throw TranscoderSets.needsSelector(path);
      }
      if (Files.isRegularFile(path.resolve("params.npz"))) {
        return gemmaScope(path.resolve("params.npz"));
      }
      if (Files.isRegularFile(path.resolve("cfg.json"))
          && Files.isRegularFile(path.resolve("sae_weights.safetensors"))) {
        return saeLens(path);
      }
      if (Files.isRegularFile(path.resolve("params.safetensors"))) {
        return gemmaScope2(path.resolve("params.safetensors"));
      }
      throw SaeLabException.inFile(
          path,
          "not an SAE folder: expected params.npz (Gemma Scope), params.safetensors (Gemma Scope"
              + " 2), cfg.json + sae_weights.safetensors (SAELens), hyperparams.json +"
              + " checkpoints/final.safetensors (Llama Scope) or config.yaml + a selector"
              + " #layer=i / #writes=L (circuit-tracer transcoders)");
    }
    if (!Files.isRegularFile(path)) {
      throw SaeLabException.inFile(path, "no such file or folder");
    }
    String name = path.getFileName().toString();
    if (name.endsWith(".npz")) {
      return gemmaScope(path);
    }
    if (name.endsWith(".safetensors") && Files.isRegularFile(path.resolveSibling("cfg.json"))) {
      return saeLens(path.getParent());
    }
    if (name.equals("params.safetensors")) {
      return gemmaScope2(path);
    }
    if (name.equals("final.safetensors") && LlamaScope.folderOf(path) != null) {
      return LlamaScope.open(LlamaScope.folderOf(path));
    }
    throw SaeLabException.inFile(
        path, "not an SAE file: expected a Gemma Scope params.npz or a SAELens folder");
  }

  private static SaeDictionary gemmaScope(Path npz) {
    NpzFile f = NpzFile.open(npz);
    try {
      Map<String, String> names =
          canonicalNames(f, npz, List.of("W_enc", "W_dec", "b_enc", "b_dec", "threshold"));
      TensorInfo dec = f.info(names.get("W_dec"));
      TensorInfo bdec = f.info(names.get("b_dec"));
      if (dec.shape().length != 2 || bdec.shape().length != 1) {
        throw SaeLabException.inTensor(
            npz,
            dec.name(),
            "W_dec must be 2-D and b_dec 1-D, got "
                + dec.shapeString()
                + " and "
                + bdec.shapeString());
      }
      long dIn = bdec.shape()[0];
      long dSae = dec.shape()[0] == dIn ? dec.shape()[1] : dec.shape()[0];
      checkShapes(f, npz, names, dIn, dSae);
      String unix = npz.toAbsolutePath().toString().replace('\\', '/');
      Matcher m = GEMMA_SCOPE.matcher(unix);
      int layer = m.matches() ? Integer.parseInt(m.group(1)) : -1;
      // the site comes from the release's folder name (gemma-scope-2b-pt-att, ...-mlp, ...-res),
      // never from other folders of the path (a worktree called wt-attr is not an attention SAE)
      Matcher site = GEMMA_SCOPE_SITE.matcher(unix);
      String kind =
          !site.find()
              ? "hook_resid_post"
              : site.group(1).equals("att") ? "attn.hook_z" : "hook_mlp_out";
      String hook = layer >= 0 ? "blocks." + layer + "." + kind : null;
      Matcher repo = GEMMA_SCOPE_REPO.matcher(unix);
      String model =
          repo.find()
              ? "gemma-2-" + repo.group(1) + (repo.group(2).equals("it") ? "-it" : "")
              : null;
      SaeConfig cfg =
          new SaeConfig(
              "gemma-scope", "jumprelu", dIn, dSae, hook, layer, false, 0, null, false, model);
      return new SaeDictionary(npz.getParent(), cfg, f, names);
    } catch (RuntimeException e) {
      f.close();
      throw e;
    }
  }

  /**
   * Gemma Scope 2 (Gemma 3): {@code params.safetensors} with lowercase {@code w_enc [d_in, d_sae]},
   * {@code w_dec [d_sae, d_in]}, {@code b_enc}, {@code b_dec}, {@code threshold} (JumpReLU); a
   * skip-transcoder also has {@code affine_skip_connection [d, d]}, which attention tables do not
   * use. Site, layer and model come from the release's path.
   */
  private static SaeDictionary gemmaScope2(Path file) {
    SafetensorsFile f = SafetensorsFile.open(file);
    try {
      Map<String, String> names =
          canonicalNames(f, file, List.of("W_enc", "W_dec", "b_enc", "b_dec", "threshold"));
      TensorInfo bdec = f.info(names.get("b_dec"));
      TensorInfo benc = f.info(names.get("b_enc"));
      if (bdec.shape().length != 1 || benc.shape().length != 1) {
        throw SaeLabException.inFile(
            file,
            "b_dec and b_enc must be 1-D, got "
                + bdec.shapeString()
                + " and "
                + benc.shapeString());
      }
      long dIn = bdec.shape()[0];
      long dSae = benc.shape()[0];
      boolean skip = names.containsKey("affine_skip_connection");
      names.remove("affine_skip_connection");
      checkShapes(f, file, names, dIn, dSae);
      if (skip) {
        long[] shape = f.info("affine_skip_connection").shape();
        if (shape.length != 2 || shape[0] != dIn || shape[1] != dIn) {
          throw SaeLabException.inTensor(
              file,
              "affine_skip_connection",
              "shape "
                  + f.info("affine_skip_connection").shapeString()
                  + ", expected ["
                  + dIn
                  + ", "
                  + dIn
                  + "]");
        }
      }
      String unix = file.toAbsolutePath().toString().replace('\\', '/');
      Matcher m = GEMMA_SCOPE_2.matcher(unix);
      int layer = m.matches() ? Integer.parseInt(m.group(2)) : -1;
      String site = m.matches() ? m.group(1).replaceFirst("_all$", "") : "";
      String kind =
          switch (site) {
            case "attn_out" -> "hook_attn_out";
            case "mlp_out" -> "hook_mlp_out";
            case "transcoder" -> "mlp transcoder";
            default -> "hook_resid_post";
          };
      String hook =
          layer >= 0 && !site.equals("transcoder") ? "blocks." + layer + "." + kind : null;
      Matcher repo = GEMMA_SCOPE_2_REPO.matcher(unix);
      String model =
          repo.find()
              ? "gemma-3-" + repo.group(1) + (repo.group(2).equals("it") ? "-it" : "")
              : null;
      SaeConfig cfg =
          new SaeConfig(
              skip ? "gemma-scope-2 skip-transcoder" : "gemma-scope-2",
              "jumprelu",
              dIn,
              dSae,
              hook,
              layer,
              false,
              0,
              null,
              false,
              model);
      return new SaeDictionary(file.getParent(), cfg, f, names);
    } catch (RuntimeException e) {
      f.close();
      throw e;
    }
  }

  private static SaeDictionary saeLens(Path dir) {
    Path cfgFile = dir.resolve("cfg.json");
    JsonNode cfg = Json.read(cfgFile);
    if (!cfg.isObject()) {
      throw SaeLabException.inFile(cfgFile, "expected a JSON object");
    }
    JsonNode meta =
        cfg.has("metadata") && cfg.get("metadata").isObject() ? cfg.get("metadata") : cfg;
    long dIn = Json.requireLong(cfgFile, cfg, "d_in");
    long dSae = Json.requireLong(cfgFile, cfg, "d_sae");
    String arch = Json.optText(cfg, "architecture", null);
    long k = Json.optLong(cfg, "k", 0);
    if (arch == null) {
      String act =
          Json.optText(cfg, "activation_fn", Json.optText(cfg, "activation_fn_str", "relu"));
      arch = act.equals("topk") ? "topk" : "standard";
      if (arch.equals("topk") && cfg.has("activation_fn_kwargs")) {
        k = Json.optLong(cfg.get("activation_fn_kwargs"), "k", k);
      }
    }
    if (!List.of("standard", "jumprelu", "topk", "batchtopk", "gated").contains(arch)) {
      throw SaeLabException.inFile(
          cfgFile,
          "architecture '"
              + arch
              + "' is not supported (expected standard, jumprelu, topk, batchtopk or gated)");
    }
    String hook =
        Json.optText(
            meta,
            "hook_name",
            Json.optText(cfg, "hook_name", Json.optText(cfg, "hook_point", null)));
    boolean applyBDec =
        cfg.has("apply_b_dec_to_input") ? cfg.get("apply_b_dec_to_input").asBoolean() : true;
    String npId = Json.optText(meta, "neuronpedia_id", null);
    JsonNode kwargs = meta.get("model_from_pretrained_kwargs");
    boolean centred =
        kwargs != null && kwargs.has("center_writing_weights")
            ? kwargs.get("center_writing_weights").asBoolean()
            : Json.optText(meta, "model_class_name", "HookedTransformer")
                    .equals("HookedTransformer")
                && Json.optText(meta, "model_name", "").startsWith("gpt2");
    int layer = -1;
    if (hook != null) {
      Matcher m = HOOK_LAYER.matcher(hook);
      if (m.find()) {
        layer = Integer.parseInt(m.group(1));
      }
    }
    Path weights = dir.resolve("sae_weights.safetensors");
    SafetensorsFile f = SafetensorsFile.open(weights);
    try {
      List<String> need =
          switch (arch) {
            case "jumprelu" -> List.of("W_enc", "W_dec", "b_enc", "b_dec", "threshold");
            case "gated" -> List.of("W_enc", "W_dec", "b_gate", "b_mag", "r_mag", "b_dec");
            default -> List.of("W_enc", "W_dec", "b_enc", "b_dec");
          };
      Map<String, String> names = canonicalNames(f, weights, need);
      checkShapes(f, weights, names, dIn, dSae);
      SaeConfig c =
          new SaeConfig(
              "saelens",
              arch,
              dIn,
              dSae,
              hook,
              layer,
              applyBDec,
              k,
              npId,
              centred,
              Json.optText(meta, "model_name", Json.optText(cfg, "model_name", null)));
      return new SaeDictionary(dir, c, f, names);
    } catch (RuntimeException e) {
      f.close();
      throw e;
    }
  }

  /**
   * Maps canonical names to stored names, accepting Gemma Scope's lowercase {@code w_enc}/{@code
   * w_dec}.
   */
  private static Map<String, String> canonicalNames(
      TensorSource f, Path file, List<String> required) {
    Map<String, String> names = new LinkedHashMap<>();
    for (TensorInfo t : f.tensors()) {
      String n = t.name();
      String canon = n.startsWith("w_") ? "W_" + n.substring(2) : n;
      names.putIfAbsent(canon, n);
    }
    for (String r : required) {
      if (!names.containsKey(r)) {
        throw SaeLabException.inFile(
            file,
            "missing SAE tensor '"
                + r
                + "' (an SAE needs "
                + required
                + "; found "
                + names.values()
                + ")");
      }
    }
    return names;
  }

  static void checkShapes(
      TensorSource f, Path file, Map<String, String> names, long dIn, long dSae) {
    SaeDictionary probe =
        new SaeDictionary(
            file, new SaeConfig("", "", dIn, dSae, null, -1, false, 0, null, false), f, names);
    for (var e : names.entrySet()) {
      long[] want = probe.expectedShape(e.getKey());
      if (want == null) {
        continue;
      }
      long[] got = f.info(e.getValue()).shape();
      boolean ok =
          java.util.Arrays.equals(got, want)
              || (want.length == 2 && got.length == 2 && got[0] == want[1] && got[1] == want[0]);
      if (!ok) {
        throw SaeLabException.inTensor(
            file,
            e.getValue(),
            "shape "
                + java.util.Arrays.toString(got)
                + ", expected "
                + java.util.Arrays.toString(want)
                + " for an SAE with d_in="
                + dIn
                + ", d_sae="
                + dSae);
      }
    }
  }
}
