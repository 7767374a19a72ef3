package dev.saelab.cli;

import dev.saelab.api.FeatureTable;
import dev.saelab.api.SaeLab;
import dev.saelab.circuits.LayerAttribution;
import dev.saelab.hub.Sources;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code saelab attribute}: one attention score (QK) or one head's write (OV) on an input, split
 * over SAE feature pairs or over the head's singular directions.
 */
@Command(
    name = "attribute",
    description =
        "Runs the model on token ids (or text) up to --layer and splits head --head's"
            + " pre-softmax score of --query-pos on --key-pos exactly: --split features (default)"
            + " over (query feature, key feature) pairs of --sae-in plus error, b_dec and bias"
            + " terms (the norms' per-token scales frozen at their values on the input; the top"
            + " pairs as a QK table whose values are the terms, the note giving the parts and the"
            + " share the pairs explain); --split directions over the head's singular directions"
            + " (Franco & Crovella); --split paths: the upstream heads, MLPs and embedding writing"
            + " those directions at both positions. --circuit ov: what the head writes at"
            + " destination --query-pos, over (value feature, output feature of --sae-out) pairs"
            + " summed over source positions and weighted by the pattern. CSV: the table shown.",
    footer = {
      "",
      "Examples:",
      "  saelab attribute --model datasets/tiny-gemma2 --sae-in"
          + " datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12 --layer 1 --head 1"
          + " --token-ids 2,17,5,33,9,41,12,60 --query-pos 5 --key-pos 2 --out target/attr.csv",
      "  saelab attribute --model datasets/tiny-gemma2 --sae-in"
          + " datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12 --sae-out"
          + " datasets/tiny-gemma-scope/layer_1/width_96/average_l0_9 --circuit ov --layer 1"
          + " --head 2 --token-ids 2,17,5,33,9,41,12,60 --query-pos 7 --out target/attr-ov.csv",
      "  saelab attribute --model datasets/tiny-gpt2 --split paths --layer 1 --head 3"
          + " --token-ids 2,17,5,33,9,41,12,60 --query-pos 7 --key-pos 3 --out target/paths.csv"
    })
public final class AttributeCommand extends CliCommand implements ForwardShared {
  /** How a score is split. */
  public enum Split {
    /** Over SAE feature pairs. */
    FEATURES,
    /** Over the head's singular directions. */
    DIRECTIONS,
    /** Over the upstream writers of the strongest directions. */
    PATHS
  }

  @Mixin ForwardOptions input;

  @Option(names = "--layer", paramLabel = "L", description = "the attention layer")
  Integer layer;

  @Option(
      names = "--head",
      paramLabel = "H",
      converter = Converters.NonNegativeConverter.class,
      description = "the head (required)")
  Integer head;

  @Option(
      names = "--query-pos",
      paramLabel = "T",
      converter = Converters.NonNegativeConverter.class,
      description = "the query position (OV: the destination); default the last token")
  Integer queryPos;

  @Option(
      names = "--key-pos",
      paramLabel = "U",
      converter = Converters.NonNegativeConverter.class,
      description = "the key position (QK only; default the key the query attends to most)")
  Integer keyPos;

  @Option(
      names = "--circuit",
      paramLabel = "qk|ov",
      defaultValue = "qk",
      description = "qk (default): a score; ov: what the head writes at --query-pos")
  String circuit;

  @Option(
      names = "--split",
      paramLabel = "features|directions|paths",
      defaultValue = "features",
      description = "how to split a QK score (default features)")
  String split;

  @Option(
      names = "--sae-in",
      paramLabel = "SAE",
      description = "SAE on the layer's input stream (notebook: the session's %%sae)")
  String saeIn;

  @Option(
      names = "--sae-out",
      paramLabel = "SAE",
      description =
          "SAE on the layer's output stream, for --circuit ov (notebook: %%sae --sae-out)")
  String saeOut;

  @Option(names = "--labels-in", paramLabel = "LABELS", description = "labels of --sae-in")
  String labelsIn;

  @Option(names = "--labels-out", paramLabel = "LABELS", description = "labels of --sae-out")
  String labelsOut;

  @Option(
      names = "--top",
      paramLabel = "K",
      defaultValue = "20",
      converter = Converters.PositiveConverter.class,
      description = "feature pairs shown (default 20)")
  int top;

  @Option(
      names = "--share",
      paramLabel = "S",
      defaultValue = "0.9",
      description = "--split paths: the directions carrying this share of the score (default 0.9)")
  double share;

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
  public Integer call() throws Exception {
    requireOut(outPath, "FILE.csv");
    if (input.recorded() && layer == null) {
      throw new IllegalArgumentException("needs --layer L");
    }
    try (ModelWeights m =
        input.recorded()
            ? input.openLayer(layer, "blocks." + layer + ".hook_resid_pre")
            : input.open()) {
      result(m, new Session(null, null, null, null, null));
    } finally {
      input.closeFile();
    }
    return 0;
  }

  @Override
  public Object result(ModelWeights m, Session session) throws Exception {
    int l = layer != null ? layer : session.layer() != null ? session.layer() : -1;
    if (l < 0) {
      throw new IllegalArgumentException("needs --layer L (or %model PATH --layer L)");
    }
    LayerInputs.checkLayer(m, l);
    if (head == null) {
      throw new IllegalArgumentException("needs --head H");
    }
    if (head >= m.config().nHeads()) {
      throw new IllegalArgumentException(
          "--head " + head + ": the layer has heads 0.." + (m.config().nHeads() - 1));
    }
    boolean ov = circuitIsOv();
    Split how = parseSplit();
    if (ov && how != Split.FEATURES) {
      throw new IllegalArgumentException("--split " + split + ": --circuit ov splits by features");
    }
    if (ov && keyPos != null) {
      throw new IllegalArgumentException(
          "--key-pos: --circuit ov sums over every source position (give --query-pos only)");
    }
    if (!(share > 0 && share <= 1)) {
      throw new IllegalArgumentException("--share " + share + ": expected a share in (0, 1]");
    }
    if (input.recorded()) {
      input.positions("blocks." + l + ".hook_resid_pre");
    }
    int[] ids = input.ids();
    int n = ids.length;
    int t = queryPos == null ? n - 1 : queryPos;
    if (t >= n) {
      throw new IllegalArgumentException(
          "--query-pos " + t + ": the input has positions 0.." + (n - 1));
    }
    if (keyPos != null && keyPos > t) {
      throw new IllegalArgumentException(
          "--key-pos " + keyPos + ": a query attends only to positions 0.." + t + " (causal)");
    }
    Object result;
    try {
      result =
          switch (how) {
            case DIRECTIONS -> {
              int u = keyPos == null ? mostAttended(m, l, t, ids) : keyPos;
              yield input.recorded()
                  ? SaeLab.directions(
                      m, l, head, t, u, input.recorded(dev.saelab.circuits.PromptSvd.hooks(l)))
                  : SaeLab.directions(m, l, head, t, u, ids);
            }
            case PATHS -> {
              int u = keyPos == null ? mostAttended(m, l, t, ids) : keyPos;
              yield input.recorded()
                  ? SaeLab.headPaths(
                      m,
                      l,
                      head,
                      t,
                      u,
                      share,
                      input.recorded(dev.saelab.circuits.HeadPaths.hooks(l)))
                  : SaeLab.headPaths(m, l, head, t, u, share, ids);
            }
            case FEATURES -> features(m, l, t, ids, session, ov);
          };
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          e.getMessage().replaceFirst("^SAE ", "--sae-in ").replaceFirst("^head ", "--head "), e);
    }
    if (outPath != null) {
      if (result instanceof FeatureTable ft) {
        ft.writeCsv(outPath);
      } else {
        ((dev.saelab.api.Analysis) result).writeCsv(outPath);
      }
      out.println("wrote " + outPath + " (" + title(result) + ")");
    }
    return result;
  }

  private static String title(Object r) {
    return r instanceof FeatureTable ft ? ft.note() : ((dev.saelab.api.Analysis) r).title();
  }

  private Object features(ModelWeights m, int l, int t, int[] ids, Session session, boolean ov)
      throws Exception {
    Sources src = Sources.fromEnvironment();
    SaeDictionary in = null;
    SaeDictionary outSae = null;
    try {
      in = saeIn != null ? SaeDictionary.open(src.sae(saeIn, Sources.matricesFor("in"))) : null;
      SaeDictionary useIn = in != null ? in : session.saeIn();
      if (useIn == null) {
        throw new IllegalArgumentException("needs --sae-in SAE (or %sae PATH)");
      }
      FeatureLabels li =
          labelsIn != null
              ? NeuronpediaLabels.read(src.labels(labelsIn))
              : in == null ? session.labelsIn() : null;
      LayerAttribution la =
          input.recorded()
              ? SaeLab.attribution(m, l, useIn, input.recorded("blocks." + l + ".hook_resid_pre"))
              : SaeLab.attribution(m, l, useIn, ids);
      if (!ov) {
        int u = keyPos == null ? mostAttended(la, t) : keyPos;
        return SaeLab.qkAttribution(la, head, t, u, top, li);
      }
      outSae =
          saeOut != null ? SaeDictionary.open(src.sae(saeOut, Sources.matricesFor("out"))) : null;
      SaeDictionary useOut = outSae != null ? outSae : session.saeOut();
      if (useOut == null) {
        throw new IllegalArgumentException("--circuit ov needs --sae-out SAE (or %sae --sae-out)");
      }
      FeatureLabels lo =
          labelsOut != null
              ? NeuronpediaLabels.read(src.labels(labelsOut))
              : outSae == null ? session.labelsOut() : null;
      return SaeLab.ovAttribution(la, head, t, useOut, top, li, lo);
    } finally {
      if (outSae != null) {
        outSae.close();
      }
      if (in != null) {
        in.close();
      }
    }
  }

  private int mostAttended(LayerAttribution la, int t) {
    int best = 0;
    for (int u = 0; u <= t; u++) {
      if (la.attends(t, u) && la.pattern(head, t, u) > la.pattern(head, t, best)) {
        best = u;
      }
    }
    return best;
  }

  private int mostAttended(ModelWeights m, int l, int t, int[] ids) {
    dev.saelab.forward.Hook p =
        dev.saelab.forward.Hook.of(l, dev.saelab.forward.Hook.Point.PATTERN);
    if (input.recorded()) {
      org.nd4j.linalg.api.ndarray.INDArray pattern = input.recorded(p.name());
      float[] row = new float[t + 1];
      for (int u = 0; u <= t; u++) {
        row[u] = pattern.getFloat(head, t, u);
      }
      return argmax(row, t);
    }
    try (dev.saelab.forward.Activations a =
        dev.saelab.forward.ForwardPass.runHooks(m, ids, java.util.List.of(p))) {
      return argmax(a.get(p).slice(head).getRow(t).toFloatVector(), t);
    }
  }

  private static int argmax(float[] row, int t) {
    int best = 0;
    for (int u = 1; u <= t; u++) {
      if (row[u] > row[best]) {
        best = u;
      }
    }
    return best;
  }

  private boolean circuitIsOv() {
    return switch (circuit) {
      case "qk" -> false;
      case "ov" -> true;
      default -> throw new IllegalArgumentException("--circuit " + circuit + ": expected qk or ov");
    };
  }

  private Split parseSplit() {
    return switch (split) {
      case "features" -> Split.FEATURES;
      case "directions" -> Split.DIRECTIONS;
      case "paths" -> Split.PATHS;
      default ->
          throw new IllegalArgumentException(
              "--split " + split + ": expected features, directions or paths");
    };
  }
}
