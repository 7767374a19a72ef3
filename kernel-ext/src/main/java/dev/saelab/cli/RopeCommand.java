package dev.saelab.cli;

import dev.saelab.api.Analyses;
import dev.saelab.api.Analysis;
import dev.saelab.api.Plots;
import dev.saelab.circuits.HeadSet;
import dev.saelab.circuits.PositionalProfile;
import dev.saelab.circuits.Rope;
import dev.saelab.circuits.TableWriter;
import dev.saelab.model.ModelConfig;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code saelab rope} / {@code %rope}: a head's QK score between two fixed directions as a function
 * of distance Δ.
 */
@Command(
    name = "rope",
    description =
        "QK score of fixed directions over query-key distance Δ through the model's RoPE, per head:"
            + " of the input SAE's decoder bias b_dec with itself (the post's plot), or of"
            + " query:key feature pairs (decoder rows). CSV: layer,head,delta,score,masked (with"
            + " --pairs: layer,head,query_feature,key_feature,delta,score,masked); masked = the"
            + " layer's sliding window hides that distance.",
    footer = {
      "",
      "Examples:",
      "  saelab rope --model datasets/tiny-gemma2 --layer 1 --sae-in"
          + " datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12 --out target/rope.csv",
      "  saelab rope --model datasets/tiny-gemma2 --layer 1 --sae-in"
          + " datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12 --pairs 17:42,88:101"
          + " --heads 1,3 --out target/rope-pairs.csv --plot target/rope-pairs.png"
    })
public final class RopeCommand extends CliCommand implements Shared {
  @Mixin InputOptions inputs;

  @Option(
      names = "--pairs",
      paramLabel = "Q:K,...",
      converter = Converters.PairsConverter.class,
      description = "query:key feature pairs, e.g. 17:42,5:5 (default: b_dec with itself)")
  Converters.Pairs pairs;

  @Mixin Options.HeadsOption heads;

  @Mixin Options.PairingOption pairing;

  @Option(
      names = "--deltas",
      paramLabel = "log|0,1,2,...",
      defaultValue = "log",
      converter = Converters.DeltasConverter.class,
      description =
          "log (default): 0 and --points log-spaced distances up to the context length; or a list")
  Converters.Ints deltas;

  @Option(
      names = "--points",
      paramLabel = "N",
      defaultValue = "50",
      converter = Converters.PositiveConverter.class,
      description = "log-spaced distances (default ${DEFAULT-VALUE})")
  int points;

  @Mixin Options.ScaleOption scale;
  @Mixin Options.QkNormOption qkNorm;

  @Option(
      names = "--out",
      paramLabel = "FILE.csv",
      description = "where to write (required on the command line)")
  Path outPath;

  @Option(names = "--plot", paramLabel = "FILE.png|FILE.svg", description = "also draw the profile")
  Path plot;

  @Override
  public InputOptions inputs() {
    return inputs;
  }

  private List<PositionalProfile.Point> compute(Layer l) {
    ModelConfig c = l.model().config();
    Rope rope = Rope.of(c, l.layer(), pairing.value());
    int[] ds =
        deltas.values() != null
            ? deltas.values()
            : PositionalProfile.logDeltas(c.maxPositions(), points);
    return PositionalProfile.ofSae(
        l.model().attention(l.layer()),
        rope,
        l.requireSaeIn(),
        l.keySae(),
        pairs == null ? null : pairs.pairs(),
        HeadSet.of(heads.list(c.nHeads())),
        ds,
        scale.query() ? c.queryScale() : 1.0,
        qkNorm.value());
  }

  private int window(Layer l) {
    ModelConfig c = l.model().config();
    return c.isSliding(l.layer()) ? c.slidingWindow() : 0;
  }

  @Override
  public Integer call() throws Exception {
    requireOut(outPath, "FILE.csv");
    try (LayerInputs in = LayerInputs.open(inputs, true, false, err::println)) {
      return write(in);
    }
  }

  /** Computes on {@code in} and writes the files of {@code --out}, as the command line does. */
  private int write(Layer in) throws Exception {
    Path file = outPath;
    {
      List<PositionalProfile.Point> pts = compute(in);
      StringBuilder sb =
          new StringBuilder(
              pairs == null
                  ? "layer,head,delta,score,masked\n"
                  : "layer,head,query_feature,key_feature,delta,score,masked\n");
      for (PositionalProfile.Point p : pts) {
        sb.append(p.layer()).append(',').append(p.head()).append(',');
        if (pairs != null) {
          sb.append(p.queryFeature()).append(',').append(p.keyFeature()).append(',');
        }
        sb.append(p.delta())
            .append(',')
            .append((float) p.score())
            .append(',')
            .append(p.masked())
            .append('\n');
      }
      TableWriter.write(file, sb);
      out.println(
          "wrote "
              + file
              + " ("
              + pts.size()
              + " points, "
              + pairing.value().id()
              + " pairing"
              + (in.model().attention(in.layer()).qNorm() != null
                  ? ", " + qkNorm.value().label()
                  : "")
              + ")");
      if (plot != null) {
        Plots.save(Plots.ropeProfile(pts, window(in)), plot);
        out.println("wrote " + plot);
      }
    }
    return 0;
  }

  @Override
  public Object result(Layer l) throws Exception {
    Analysis a = Analyses.profile(compute(l), window(l));
    if (outPath != null) {
      write(l);
    }
    if (plot != null) {
      Plots.save(a.plot(), plot);
    }
    return a;
  }
}
