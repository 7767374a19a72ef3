package dev.saelab.cli;

import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.QkOvScatter;
import dev.saelab.circuits.TableWriter;
import dev.saelab.api.Plots;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code saelab qkov-scatter}: J Bostock's per-head QK–OV correlation. */
final class ScatterCommand {
  static final String HELP = String.join("\n",
      "usage: saelab qkov-scatter --model MODEL --layer L --sae-in SAE --sae-out SAE [--heads all|0,3] --out DIR",
      "         [--plot-head H --plot FILE.png|FILE.svg]",
      "  scatter.csv      layer,head,feature,mean_qk,mean_abs_ov: per input-SAE feature, the mean of its QK column",
      "                   (as a key, over all queries) and the mean |OV| of its row (as a value, over all outputs)",
      "  correlation.csv  layer,head,pearson",
      "");
  private static final List<String> VALUES = new ArrayList<>(LayerInputs.OPTIONS);

  static {
    VALUES.addAll(List.of("--heads", "--out", "--plot", "--plot-head"));
  }

  private final PrintStream out;

  ScatterCommand(PrintStream out) {
    this.out = out;
  }

  int run(String[] argv) throws IOException {
    Args a = new Args("qkov-scatter", argv, VALUES, List.of("--help"));
    if (a.has("--help")) {
      out.print(HELP);
      return 0;
    }
    Path dir = Path.of(a.require("--out"));
    try (LayerInputs in = LayerInputs.open(a, true, true);
        FeatureCircuits fc = FeatureCircuits.of(in.model.attention(in.layer), in.in, in.keySae(), in.out)) {
      var c = in.model.config();
      int[] heads = TablesCommand.parseHeads(a.get("--heads", "all"), c.nHeads()).resolve(c);
      StringBuilder sc = new StringBuilder("layer,head,feature,mean_qk,mean_abs_ov\n");
      StringBuilder corr = new StringBuilder("layer,head,pearson\n");
      QkOvScatter plotted = null;
      int plotHead = a.intValue("--plot-head", heads[0]);
      for (int h : heads) {
        QkOvScatter s = fc.qkOvScatter(h);
        for (int i = 0; i < s.meanQk().length; i++) {
          sc.append(in.layer).append(',').append(h).append(',').append(i).append(',').append((float) s.meanQk()[i])
              .append(',').append((float) s.meanAbsOv()[i]).append('\n');
        }
        corr.append(in.layer).append(',').append(h).append(',').append(s.pearson()).append('\n');
        out.printf(java.util.Locale.ROOT, "%s  r = %.4f%n", s.headName(), s.pearson());
        if (h == plotHead) {
          plotted = s;
        }
      }
      TableWriter.write(dir.resolve("scatter.csv"), sc);
      TableWriter.write(dir.resolve("correlation.csv"), corr);
      out.println("wrote " + dir.resolve("scatter.csv") + " and " + dir.resolve("correlation.csv"));
      if (a.has("--plot")) {
        if (plotted == null) {
          throw new IllegalArgumentException("--plot-head " + plotHead + " is not among --heads");
        }
        Path plot = Path.of(a.get("--plot", ""));
        Plots.save(Plots.qkOvScatter(plotted), plot);
        out.println("wrote " + plot);
      }
    }
    return 0;
  }
}
