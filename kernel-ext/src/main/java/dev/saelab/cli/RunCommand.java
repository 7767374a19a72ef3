package dev.saelab.cli;

import dev.saelab.forward.Activations;
import dev.saelab.forward.ForwardPass;
import dev.saelab.forward.Hook;
import dev.saelab.io.SafetensorsWriter;
import dev.saelab.model.ModelWeights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code saelab run}: a forward pass that saves activations under TransformerLens hook names. */
@Command(
    name = "run",
    description =
        "Runs the model on token ids, or on text tokenised with the model's tokenizer.json,"
            + " (float32, as Hugging Face transformers computes) up to the last layer the hooks"
            + " need and saves the activations as F32 safetensors under their TransformerLens"
            + " names:"
            + " blocks.L.hook_resid_pre|hook_resid_mid|hook_resid_post|hook_attn_out|hook_mlp_out"
            + " [T, d_model]; blocks.L.attn.hook_q|hook_rot_q [T, n_heads, d_head] (hook_q after"
            + " q_norm, before RoPE; hook_rot_q after RoPE), hook_k|hook_rot_k|hook_v [T,"
            + " n_kv_heads, d_head], hook_attn_scores|hook_pattern [n_heads, T, T] (masked scores"
            + " -inf), hook_z [T, n_heads, d_head]; ln_final.hook_normalized [T, d_model]. In a"
            + " notebook, %%run on the session's model (or --model) returns the recorded"
            + " activations (Activations: get(\"blocks.1.hook_resid_pre\") is an INDArray), and"
            + " saves them too when --out is given.",
    footer = {
      "",
      "Examples:",
      "  saelab run --model datasets/tiny-gpt2 --token-ids 2,17,5,33,9,41,12,60 --hooks"
          + " blocks.1.hook_resid_post,blocks.0.attn.hook_pattern --out target/run.safetensors",
      "  saelab run --model datasets/tiny-qwen3 --token-ids 2,17,5,33 --hooks"
          + " blocks.0.attn.hook_rot_q,blocks.1.attn.hook_z,ln_final.hook_normalized"
          + " --out target/run-qwen3.safetensors",
      "  saelab run --model datasets/tiny-gemma3 --text \"the cat sat on the mat.\" --hooks"
          + " blocks.3.hook_resid_post --out target/run-text.safetensors"
    })
public final class RunCommand extends CliCommand implements ForwardShared {
  @Mixin ForwardOptions input;

  @Option(
      names = "--hooks",
      paramLabel = "NAME,...",
      split = ",",
      description =
          "the activations to save, e.g. blocks.1.hook_resid_post,blocks.0.attn.hook_pattern")
  List<String> hooks;

  @Option(
      names = "--out",
      paramLabel = "FILE.safetensors",
      description = "where to write (required on the command line)")
  Path outPath;

  @Override
  public ForwardOptions input() {
    return input;
  }

  @Override
  public Object result(ModelWeights m, Integer sessionLayer) throws Exception {
    Activations a = record(m);
    if (outPath != null) {
      write(m, a);
    }
    return a;
  }

  @Override
  public Integer call() throws Exception {
    requireOut(outPath, "FILE.safetensors");
    try (ModelWeights m = input.open();
        Activations a = record(m)) {
      write(m, a);
    }
    return 0;
  }

  private Activations record(ModelWeights m) {
    if (hooks == null || hooks.isEmpty()) {
      throw new IllegalArgumentException("needs --hooks NAME,... (e.g. blocks.0.hook_resid_post)");
    }
    List<Hook> parsed = new ArrayList<>();
    for (String h : hooks) {
      try {
        parsed.add(Hook.parse(h));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--hooks: " + e.getMessage(), e);
      }
    }
    int n = m.config().nLayers();
    for (Hook h : parsed) {
      if (h.layer() >= n) {
        throw new IllegalArgumentException("--hooks " + h + ": the model has layers 0.." + (n - 1));
      }
    }
    return forward(m, input, parsed);
  }

  private void write(ModelWeights m, Activations a) throws java.io.IOException {
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("model", m.folder().toString());
    meta.put("model_type", m.config().modelType());
    meta.put("token_ids", Arrays.toString(input.ids()).replace(" ", ""));
    SafetensorsWriter.write(outPath, a.byName(), meta);
    out.println(
        "wrote "
            + outPath
            + " ("
            + a.byName().size()
            + " activations of "
            + input.ids().length
            + " tokens: "
            + String.join(", ", a.byName().keySet())
            + ")");
  }

  /** The forward pass, with token errors naming the flag. */
  static Activations forward(ModelWeights m, ForwardOptions input, List<Hook> hooks) {
    int[] ids = input.ids();
    try {
      ForwardPass.checkTokens(m, ids);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(input.flag() + ": " + e.getMessage(), e);
    }
    return ForwardPass.runHooks(m, ids, hooks);
  }
}
