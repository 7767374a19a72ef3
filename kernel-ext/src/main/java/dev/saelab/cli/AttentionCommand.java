package dev.saelab.cli;

import dev.saelab.circuits.TableWriter;
import dev.saelab.forward.Activations;
import dev.saelab.forward.Hook;
import dev.saelab.model.ModelWeights;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code saelab attention}: one layer's attention scores and pattern on an input, per head. */
@Command(
    name = "attention",
    description =
        "Runs the model on token ids (or text, with the model's tokenizer.json) up to --layer and"
            + " writes that layer's attention, one row per head, query position and key position"
            + " the query may attend to (causal, and the sliding window on sliding layers). CSV:"
            + " layer,head,query_pos,key_pos,score,pattern; score: pre-softmax after the query"
            + " scale, soft-cap and mask; pattern: the softmax probability. In a notebook,"
            + " %%attention on the session's model (or --model) returns head --head's pattern as a"
            + " heat map above that table.",
    footer = {
      "",
      "Examples:",
      "  saelab attention --model datasets/tiny-gemma2 --token-ids 2,17,5,33,9,41,12,60 --layer 1"
          + " --out target/attention.csv",
      "  saelab attention --model datasets/tiny-gemma3 --token-ids 2,17,5,33,9,41,12,60,7,3"
          + " --layer 0 --out target/attention-sliding.csv",
      "  saelab attention --model datasets/tiny-gemma2 --text \"the cat sat on the mat.\""
          + " --layer 1 --out target/attention-text.csv"
    })
public final class AttentionCommand extends CliCommand implements ForwardShared {
  @Mixin ForwardOptions input;

  @Option(names = "--layer", paramLabel = "L", description = "the attention layer")
  Integer layer;

  @Option(
      names = "--head",
      paramLabel = "H",
      converter = Converters.NonNegativeConverter.class,
      description = "only this head (in a notebook: the head shown; default 0)")
  Integer head;

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
    int l = layer != null ? layer : sessionLayer != null ? sessionLayer : -1;
    if (l < 0) {
      throw new IllegalArgumentException("needs --layer L (or %model PATH --layer L)");
    }
    LayerInputs.checkLayer(m, l);
    if (outPath != null) {
      write(m, l);
    }
    try {
      return dev.saelab.api.SaeLab.attention(m, l, head == null ? 0 : head, input.ids());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          e.getMessage().replaceFirst("^head ", "--head ").replaceFirst("^layer ", "--layer "), e);
    }
  }

  @Override
  public Integer call() throws Exception {
    requireOut(outPath, "FILE.csv");
    if (layer == null) {
      throw new IllegalArgumentException("needs --layer L");
    }
    try (ModelWeights m = input.open()) {
      LayerInputs.checkLayer(m, layer);
      return write(m, layer);
    }
  }

  private int write(ModelWeights m, int layer) throws Exception {
    if (head != null && head >= m.config().nHeads()) {
      throw new IllegalArgumentException(
          "--head " + head + ": the layer has heads 0.." + (m.config().nHeads() - 1));
    }
    {
      Hook scores = Hook.of(layer, Hook.Point.ATTN_SCORES);
      Hook pattern = Hook.of(layer, Hook.Point.PATTERN);
      try (Activations a = RunCommand.forward(m, input, List.of(scores, pattern))) {
        float[][][] s = cube(a, scores);
        float[][][] p = cube(a, pattern);
        StringBuilder sb = new StringBuilder("layer,head,query_pos,key_pos,score,pattern\n");
        int rows = 0;
        for (int h = 0; h < p.length; h++) {
          if (head != null && h != head) {
            continue;
          }
          for (int q = 0; q < p[h].length; q++) {
            for (int k = 0; k <= q; k++) {
              if (s[h][q][k] == Float.NEGATIVE_INFINITY) {
                continue;
              }
              sb.append(layer)
                  .append(',')
                  .append(h)
                  .append(',')
                  .append(q)
                  .append(',')
                  .append(k)
                  .append(',')
                  .append(s[h][q][k])
                  .append(',')
                  .append(p[h][q][k])
                  .append('\n');
              rows++;
            }
          }
        }
        TableWriter.write(outPath, sb);
        out.println(
            "wrote "
                + outPath
                + " ("
                + rows
                + " rows: layer "
                + layer
                + ", "
                + p.length
                + " heads, "
                + input.ids().length
                + " tokens"
                + (m.config().isSliding(layer)
                    ? ", sliding window " + m.config().slidingWindow()
                    : "")
                + ")");
      }
    }
    return 0;
  }

  private static float[][][] cube(Activations a, Hook h) {
    org.nd4j.linalg.api.ndarray.INDArray x = a.get(h);
    int n = (int) x.size(0);
    float[][][] out = new float[n][][];
    for (int i = 0; i < n; i++) {
      out[i] = x.slice(i).toFloatMatrix();
    }
    return out;
  }
}
