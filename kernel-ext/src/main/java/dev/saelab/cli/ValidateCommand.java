package dev.saelab.cli;

import dev.saelab.api.Analysis;
import dev.saelab.api.SaeLab;
import dev.saelab.hub.Sources;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code saelab validate}: how well a layer's QK weight tables predict its real attention scores on
 * an input (Spearman ρ per head and distance band).
 */
@Command(
    name = "validate",
    description =
        "Runs the model on token ids (or text) up to --layer, encodes the layer's input with"
            + " --sae-in and compares, per head, the QK tables' predicted score of every (query"
            + " position, key position) pair — the sum over the active feature pairs of activation"
            + " × activation × table entry — with the model's real pre-softmax score: Spearman ρ"
            + " over all pairs and per distance band (0, 1, 2-3, 4-7, ...), position-free and, for"
            + " RoPE models, with each side rotated to its position (rho_rope). CSV:"
            + " layer,head,band,lo,hi,pairs,rho,rho_rope (band 'all': every pair). In a notebook,"
            + " %%validate uses the session's model and SAE and returns the table with a bar plot.",
    footer = {
      "",
      "Examples:",
      "  saelab validate --model datasets/tiny-gemma2 --sae-in"
          + " datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12 --layer 1 --token-ids"
          + " 2,17,5,33,9,41,12,60 --out target/validate.csv",
      "  saelab validate --model datasets/tiny-gpt2 --sae-in"
          + " datasets/tiny-saelens/blocks.1.hook_resid_pre --layer 1 --activations"
          + " datasets/tiny-activations/gpt2-cache.safetensors --out target/validate-recorded.csv",
      "  saelab validate --model datasets/tiny-gpt2 --sae-in"
          + " datasets/tiny-saelens/blocks.1.hook_resid_pre --layer 1 --token-ids"
          + " 2,17,5,33,9,41,12,60 --skip-first --out target/validate-gpt2.csv"
    })
public final class ValidateCommand extends CliCommand implements ForwardShared {
  @Mixin ForwardOptions input;

  @Option(names = "--layer", paramLabel = "L", description = "the attention layer")
  Integer layer;

  @Option(
      names = "--sae-in",
      paramLabel = "SAE",
      description =
          "SAE on the layer's input stream (resid_pre of L = resid_post of L-1); in a notebook,"
              + " the session's %%sae by default")
  String saeIn;

  @Option(
      names = "--skip-first",
      description = "leave out position 0 (BOS, the usual attention sink) as query and as key")
  boolean skipFirst;

  @Option(
      names = "--out",
      paramLabel = "FILE.csv",
      description = "where to write (required on the command line)")
  Path outPath;

  @Override
  public ForwardOptions input() {
    return input;
  }

  @Override
  public Object result(ModelWeights m, Integer sessionLayer) throws Exception {
    return result(m, new Session(sessionLayer, null, null, null, null));
  }

  @Override
  public Object result(ModelWeights m, Session session) throws Exception {
    Integer sessionLayer = session.layer();
    SaeDictionary sessionSae = session.saeIn();
    int l = layer != null ? layer : sessionLayer != null ? sessionLayer : -1;
    if (l < 0) {
      throw new IllegalArgumentException("needs --layer L (or %model PATH --layer L)");
    }
    LayerInputs.checkLayer(m, l);
    if (saeIn == null) {
      if (sessionSae == null) {
        throw new IllegalArgumentException("needs --sae-in SAE (or %sae PATH)");
      }
      return run(m, l, sessionSae);
    }
    try (SaeDictionary sae = open()) {
      return run(m, l, sae);
    }
  }

  @Override
  public Integer call() throws Exception {
    requireOut(outPath, "FILE.csv");
    if (layer == null) {
      throw new IllegalArgumentException("needs --layer L");
    }
    if (saeIn == null) {
      throw new IllegalArgumentException(
          "needs --sae-in SAE (the SAE on the layer's input stream)");
    }
    try (ModelWeights m =
            input.recorded()
                ? input.openLayer(layer, "blocks." + layer + ".hook_resid_pre")
                : input.open();
        SaeDictionary sae = open()) {
      LayerInputs.checkLayer(m, layer);
      run(m, layer, sae);
      return 0;
    } finally {
      input.closeFile();
    }
  }

  private SaeDictionary open() {
    return SaeDictionary.open(Sources.fromEnvironment().sae(saeIn, Sources.matricesFor("in")));
  }

  private Analysis run(ModelWeights m, int l, SaeDictionary sae) {
    if (input.recorded()) {
      input.positions("blocks." + l + ".hook_resid_pre");
    }
    Analysis a;
    try {
      a =
          input.recorded()
              ? SaeLab.validate(
                  m,
                  l,
                  sae,
                  skipFirst,
                  input.recorded("blocks." + l + ".hook_resid_pre"),
                  input.recorded("blocks." + l + ".attn.hook_attn_scores"))
              : SaeLab.validate(m, l, sae, skipFirst, input.ids());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          e.getMessage().replaceFirst("^SAE ", "--sae-in ").replaceFirst("^layer ", "--layer "), e);
    }
    if (outPath != null) {
      a.writeCsv(outPath);
      out.println("wrote " + outPath + " (" + a.table().rowCount() + " rows: " + a.title() + ")");
    }
    return a;
  }
}
