package dev.saelab.cli;

import dev.saelab.circuits.PositionalProfile;
import dev.saelab.circuits.Rope;
import dev.saelab.circuits.TableWriter;
import dev.saelab.api.Plots;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** {@code saelab rope-profile}: a head's QK score between two fixed directions as a function of distance Δ. */
final class RopeProfileCommand {
  static final String HELP = String.join("\n",
      "usage: saelab rope-profile --model MODEL --layer L --sae-in SAE [--pairs Q:K,...] [--heads all|0,3]",
      "         [--pairing rotate-half|interleaved] [--deltas log|0,1,2,...] [--points N] [--scale raw|query]",
      "         --out FILE.csv [--plot FILE.png|FILE.svg]",
      "  default directions: the input SAE's decoder bias b_dec as query and as key (the post's plot);",
      "  --pairs 17:42,5:5 uses query feature 17 with key feature 42, and so on (decoder rows)",
      "  --deltas log   (default) 0 and N (--points, default 50) log-spaced distances up to the context length",
      "  CSV: layer,head,delta,score,masked (with --pairs: layer,head,query_feature,key_feature,delta,score,masked);",
      "  masked = the layer's sliding window hides that distance",
      "");
  private static final List<String> VALUES = new ArrayList<>(LayerInputs.OPTIONS);

  static {
    VALUES.addAll(List.of("--pairs", "--heads", "--pairing", "--deltas", "--points", "--scale", "--out", "--plot"));
  }

  private final PrintStream out;

  RopeProfileCommand(PrintStream out) {
    this.out = out;
  }

  int run(String[] argv) throws IOException {
    Args a = new Args("rope-profile", argv, VALUES, List.of("--help"));
    if (a.has("--help")) {
      out.print(HELP);
      return 0;
    }
    Path file = Path.of(a.require("--out"));
    Rope.Pairing pairing = Rope.Pairing.parse(a.get("--pairing", "rotate-half"));
    String scaleName = a.get("--scale", "raw");
    if (!scaleName.equals("raw") && !scaleName.equals("query")) {
      throw new IllegalArgumentException("--scale " + scaleName + ": expected raw or query");
    }
    int[][] pairs = parsePairs(a.get("--pairs", null));
    try (LayerInputs in = LayerInputs.open(a, true, false)) {
      var c = in.model.config();
      Rope rope = Rope.of(c, pairing);
      var heads = TablesCommand.parseHeads(a.get("--heads", "all"), c.nHeads());
      int[] deltas = parseDeltas(a.get("--deltas", "log"), c.maxPositions(), a.intValue("--points", 50));
      double scale = scaleName.equals("query") ? c.queryScale() : 1.0;
      var attn = in.model.attention(in.layer);
      List<PositionalProfile.Point> pts = PositionalProfile.ofSae(attn, rope, in.in, in.keySae(), pairs, heads,
          deltas, scale);
      StringBuilder sb = new StringBuilder(pairs == null ? "layer,head,delta,score,masked\n"
          : "layer,head,query_feature,key_feature,delta,score,masked\n");
      for (PositionalProfile.Point p : pts) {
        sb.append(p.layer()).append(',').append(p.head()).append(',');
        if (pairs != null) {
          sb.append(p.queryFeature()).append(',').append(p.keyFeature()).append(',');
        }
        sb.append(p.delta()).append(',').append((float) p.score()).append(',').append(p.masked()).append('\n');
      }
      TableWriter.write(file, sb);
      out.println("wrote " + file + " (" + pts.size() + " points, " + pairing.id() + " pairing)");
      if (a.has("--plot")) {
        Path plot = Path.of(a.get("--plot", ""));
        Plots.save(Plots.ropeProfile(pts, c.isSliding(in.layer) ? c.slidingWindow() : 0), plot);
        out.println("wrote " + plot);
      }
    }
    return 0;
  }

  /** {@code 17:42,5:5}, or null for the decoder bias. */
  static int[][] parsePairs(String s) {
    if (s == null) {
      return null;
    }
    try {
      return Arrays.stream(s.split(",")).map(String::strip).map(p -> {
        String[] qk = p.split(":");
        if (qk.length != 2) {
          throw new NumberFormatException(p);
        }
        return new int[] {Integer.parseInt(qk[0].strip()), Integer.parseInt(qk[1].strip())};
      }).toArray(int[][]::new);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--pairs " + s + ": expected QUERY:KEY feature pairs like 17:42,5:5");
    }
  }

  /** {@code log} (0 and log-spaced up to the context) or an explicit list. */
  static int[] parseDeltas(String s, int context, int points) {
    if (s.equals("log")) {
      return PositionalProfile.logDeltas(context, points);
    }
    try {
      int[] d = Arrays.stream(s.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
      for (int x : d) {
        if (x < 0) {
          throw new IllegalArgumentException("--deltas " + s + ": distances must be ≥ 0");
        }
      }
      return d;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--deltas " + s + ": expected log or a list like 0,1,2,8");
    }
  }
}
