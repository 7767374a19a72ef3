package dev.saelab.sae;

import com.fasterxml.jackson.databind.JsonNode;
import dev.saelab.io.Json;
import dev.saelab.io.SaeLabException;
import dev.saelab.io.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Llama Scope (OpenMOSS, Llama-3.1-8B; {@code fnlp/Llama3_1-8B-Base-LX{R,A,M}-{8,32}x}): a folder
 * {@code L{layer}{R|A|M}-{8|32}x} (in the repositories {@code Llama3_1-8B-Base-L15R-8x}) holding
 * {@code hyperparams.json} and {@code checkpoints/final.safetensors}.
 *
 * <p>Stored: {@code encoder.weight [d_sae, d_model]}, {@code encoder.bias [d_sae]}, {@code
 * decoder.weight [d_model, d_sae]}, {@code decoder.bias [d_model]}, at the training scale: the SAE
 * was trained on inputs normalised dataset-wise, {@code x · s} with {@code s = sqrt(d_model) /
 * dataset_average_activation_norm.in}. Exactly as SAELens loads them (jbloomAus/SAELens v6.18.0,
 * commit 91ca16c: {@code sae_lens/loading/pretrained_sae_loaders.py} lines 526–650, {@code
 * get_llama_scope_config_from_hf} and {@code llama_scope_sae_huggingface_loader}, which transpose
 * the two weights and set {@code normalize_activations = "expected_average_only_in"}; {@code
 * sae_lens/saes/sae.py} lines 674–681, where {@code from_pretrained} then calls {@code
 * fold_activation_norm_scaling_factor} (lines 287–290) with the registry's {@code
 * norm_scaling_factor}, which is {@code sqrt(d_model) / norm_in}, e.g. 58.935… = 64 / 1.0859375 for
 * {@code l0r_8x}), the dictionary SAE Lab exposes acts on raw activations:
 *
 * <pre>
 * W_enc = encoder.weightᵀ · s     W_dec = decoder.weightᵀ / s     b_dec = decoder.bias / s
 * b_enc = encoder.bias            threshold = jump_relu_threshold · s (a constant vector)
 * </pre>
 *
 * so decoder rows are the directions the SAE writes into the stream at the stream's own scale.
 * Decoder norms are not folded (SAELens folds them only on request, {@code fold_W_dec_norm}); the
 * threshold's factor is SAELens's and is not used by the tables. {@code
 * dataset_average_activation_norm.out} is not used (as in SAELens; it equals {@code in} for R, A
 * and M SAEs, whose input and output hooks agree). Refused with one line: a {@code norm_activation}
 * other than {@code dataset-wise}, and transcoders ({@code hook_point_in ≠ hook_point_out}, LXTC),
 * which SAELens does not load and whose decoder would need the output norm.
 */
final class LlamaScope {
  private static final Pattern HOOK_LAYER = Pattern.compile("blocks\\.(\\d+)\\.");

  /** {@code Llama3_1-8B-Base-L15R-8x}: layer, site, expansion (Neuronpedia ids). */
  private static final Pattern RELEASE_FOLDER =
      Pattern.compile("Llama3_1-8B-Base-L(\\d+)([RAM])-(8|32)x");

  private LlamaScope() {}

  /** True if {@code dir} holds hyperparams.json and checkpoints/final.safetensors. */
  static boolean isFolder(Path dir) {
    return Files.isRegularFile(dir.resolve("hyperparams.json"))
        && Files.isRegularFile(dir.resolve("checkpoints").resolve("final.safetensors"));
  }

  /** The SAE folder of a {@code …/checkpoints/final.safetensors} file, or null. */
  static Path folderOf(Path file) {
    Path parent = file.toAbsolutePath().getParent();
    if (parent == null
        || !parent.getFileName().toString().equals("checkpoints")
        || parent.getParent() == null) {
      return null;
    }
    return Files.isRegularFile(parent.getParent().resolve("hyperparams.json"))
        ? parent.getParent()
        : null;
  }

  static SaeDictionary open(Path dir) {
    Path hpFile = dir.resolve("hyperparams.json");
    JsonNode hp = Json.read(hpFile);
    if (!hp.isObject()) {
      throw SaeLabException.inFile(hpFile, "expected a JSON object");
    }
    long dIn = Json.requireLong(hpFile, hp, "d_model");
    long dSae = Json.requireLong(hpFile, hp, "d_sae");
    String norm = Json.optText(hp, "norm_activation", "dataset-wise");
    if (!norm.equals("dataset-wise")) {
      throw SaeLabException.inFile(
          hpFile,
          "field 'norm_activation' is '"
              + norm
              + "'; SAE Lab folds only the dataset-wise normalisation (as SAELens does)");
    }
    JsonNode avg = hp.path("dataset_average_activation_norm").path("in");
    if (!avg.isNumber() || !(avg.asDouble() > 0) || Double.isInfinite(avg.asDouble())) {
      throw SaeLabException.inFile(
          hpFile,
          "field 'dataset_average_activation_norm.in' must be a positive number, got "
              + (avg.isMissingNode() ? "nothing" : avg.toString()));
    }
    String hookIn = Json.optText(hp, "hook_point_in", null);
    String hookOut = Json.optText(hp, "hook_point_out", hookIn);
    if (hookIn != null && hookOut != null && !hookIn.equals(hookOut)) {
      throw SaeLabException.inFile(
          hpFile,
          "hook_point_in '"
              + hookIn
              + "' differs from hook_point_out '"
              + hookOut
              + "': a Llama Scope transcoder, which SAE Lab does not read (SAELens neither; its"
              + " decoder would need dataset_average_activation_norm.out)");
    }
    double s = Math.sqrt((double) dIn) / avg.asDouble();
    float sf = (float) s;
    String act = Json.optText(hp, "act_fn", hp.has("jump_relu_threshold") ? "jumprelu" : "topk");
    String arch = act.equals("jumprelu") ? "jumprelu" : "topk";
    long k = Json.optLong(hp, "top_k", 0);
    int layer = -1;
    if (hookIn != null) {
      Matcher m = HOOK_LAYER.matcher(hookIn);
      if (m.find()) {
        layer = Integer.parseInt(m.group(1));
      }
    }
    String unix = dir.toAbsolutePath().toString().replace('\\', '/');
    Matcher rel = RELEASE_FOLDER.matcher(unix);
    String model = Json.optText(hp, "model_name", rel.find() ? "meta-llama/Llama-3.1-8B" : null);
    String npId = null;
    rel.reset();
    if (rel.find() && !rel.group(2).equals("A")) {
      npId =
          "llama3.1-8b/"
              + rel.group(1)
              + "-llamascope-"
              + (rel.group(2).equals("R") ? "res" : "mlp")
              + (rel.group(3).equals("8") ? "-32k" : "-131k");
    }
    Path weights = dir.resolve("checkpoints").resolve("final.safetensors");
    SafetensorsFile f = SafetensorsFile.open(weights);
    try {
      for (String t : List.of("encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias")) {
        if (f.find(t).isEmpty()) {
          throw SaeLabException.inFile(
              weights,
              "missing Llama Scope tensor '"
                  + t
                  + "' (expected encoder.weight, encoder.bias, decoder.weight, decoder.bias)");
        }
      }
      DerivedTensors d =
          new DerivedTensors(weights, "safetensors (Llama Scope, folded)", List.of(f));
      d.scaled("encoder.weight", f, "encoder.weight", sf, false)
          .alias("encoder.bias", f, "encoder.bias")
          .scaled("decoder.weight", f, "decoder.weight", sf, true)
          .scaled("decoder.bias", f, "decoder.bias", sf, true);
      Map<String, String> names = new LinkedHashMap<>();
      names.put("W_enc", "encoder.weight");
      names.put("W_dec", "decoder.weight");
      names.put("b_enc", "encoder.bias");
      names.put("b_dec", "decoder.bias");
      if (hp.has("jump_relu_threshold") && hp.get("jump_relu_threshold").isNumber()) {
        d.constant("threshold", dSae, (float) (hp.get("jump_relu_threshold").asDouble() * s));
        names.put("threshold", "threshold");
      }
      SaeLoader.checkShapes(d, weights, names, dIn, dSae);
      SaeConfig cfg =
          new SaeConfig(
              "llama-scope", arch, dIn, dSae, hookIn, layer, false, k, npId, false, model);
      return new SaeDictionary(dir, cfg, d, names);
    } catch (RuntimeException e) {
      f.close();
      throw e;
    }
  }
}
