package dev.saelab.cli;

import dev.saelab.api.Analyses;
import dev.saelab.api.Analysis;
import dev.saelab.api.Plots;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.QkOvScatter;
import dev.saelab.circuits.TableWriter;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code saelab scatter} / {@code %scatter}: J Bostock's per-head QK–OV correlation. */
@Command(
    name = "scatter",
    description =
        "The post's QK-OV scatter: per input-SAE feature, the mean of its QK column (as a key, over"
            + " all queries) against the mean |OV| of its row (as a value, over all outputs), and"
            + " Pearson's r per head (needs --sae-out). Files in --out: scatter.csv"
            + " (layer,head,feature,mean_qk,mean_abs_ov) and correlation.csv (layer,head,pearson)."
            + " In a notebook: the scatter of --head.",
    footer = {
      "",
      "Examples:",
      "  saelab scatter --model datasets/tiny-gemma2 --layer 1 --sae-in"
          + " datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12 --sae-out"
          + " datasets/tiny-gemma-scope/layer_1/width_96/average_l0_9 --head 0 --out target/scatter"
          + " --plot target/scatter/head0.png"
    })
public final class ScatterCommand extends CliCommand implements Shared {
  @Mixin InputOptions inputs;

  @Mixin Options.HeadsOption heads;
  @Mixin Options.QkNormOption qkNorm;

  @Option(
      names = "--head",
      paramLabel = "H",
      converter = Converters.NonNegativeConverter.class,
      description = "the head plotted (and returned in a notebook); default: the first of --heads")
  Integer head;

  @Option(
      names = "--out",
      paramLabel = "DIR",
      description = "where to write (required on the command line)")
  Path outPath;

  @Option(
      names = "--plot",
      paramLabel = "FILE.png|FILE.svg",
      description = "also draw the scatter of --head")
  Path plot;

  @Override
  public InputOptions inputs() {
    return inputs;
  }

  private int[] heads(Layer l) {
    int[] hs = heads.list(l.model().config().nHeads());
    if (head != null && java.util.Arrays.stream(hs).noneMatch(h -> h == head)) {
      throw new IllegalArgumentException("--head " + head + " is not among --heads " + heads);
    }
    return hs;
  }

  private FeatureCircuits open(Layer l) {
    l.requireSaeOut("the QK-OV scatter");
    return Queries.of(l, err::println).qkNorm(qkNorm.value()).open();
  }

  @Override
  public Object result(Layer l) throws Exception {
    int[] hs = heads(l);
    int h = head != null ? head : hs[0];
    try (FeatureCircuits fc = open(l)) {
      Analysis a = Analyses.scatter(fc.qkOvScatter(h));
      if (outPath != null) {
        write(l);
      }
      if (plot != null) {
        Plots.save(a.plot(), plot);
      }
      return a;
    }
  }

  @Override
  public Integer call() throws Exception {
    requireOut(outPath, "DIR");
    try (LayerInputs in = LayerInputs.open(inputs, true, true, err::println)) {
      return write(in);
    }
  }

  /** Computes on {@code in} and writes the files of {@code --out}, as the command line does. */
  private int write(Layer in) throws Exception {
    Path dir = outPath;
    try (FeatureCircuits fc = open(in)) {
      int[] hs = heads(in);
      int plotHead = head != null ? head : hs[0];
      StringBuilder sc = new StringBuilder("layer,head,feature,mean_qk,mean_abs_ov\n");
      StringBuilder corr = new StringBuilder("layer,head,pearson\n");
      QkOvScatter plotted = null;
      for (int h : hs) {
        QkOvScatter s = fc.qkOvScatter(h);
        for (int i = 0; i < s.meanQk().length; i++) {
          sc.append(in.layer())
              .append(',')
              .append(h)
              .append(',')
              .append(i)
              .append(',')
              .append((float) s.meanQk()[i])
              .append(',')
              .append((float) s.meanAbsOv()[i])
              .append('\n');
        }
        corr.append(in.layer()).append(',').append(h).append(',').append(s.pearson()).append('\n');
        out.printf(java.util.Locale.ROOT, "%s  r = %.4f%n", s.headName(), s.pearson());
        if (h == plotHead) {
          plotted = s;
        }
      }
      TableWriter.write(dir.resolve("scatter.csv"), sc);
      TableWriter.write(dir.resolve("correlation.csv"), corr);
      out.println("wrote " + dir.resolve("scatter.csv") + " and " + dir.resolve("correlation.csv"));
      if (plot != null) {
        Plots.save(Plots.qkOvScatter(plotted), plot);
        out.println("wrote " + plot);
      }
    }
    return 0;
  }
}
