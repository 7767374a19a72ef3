package dev.saelab.cli;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitSpec;
import dev.saelab.circuits.CircuitTable;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.circuits.HeadSvd;
import dev.saelab.linalg.Progress;
import dev.saelab.circuits.TableWriter;
import dev.saelab.model.AttentionWeights;
import dev.saelab.api.Plots;
import dev.saelab.sae.SaeDictionary;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/** {@code saelab svd}: Franco &amp; Crovella's singular-value view of each head's QK and OV circuits. */
final class SvdCommand {
  static final String HELP = String.join("\n",
      "usage: saelab svd --model MODEL --layer L [--heads all|0,3] [--circuit qk|ov|both] [--augmented]",
      "         [--sae SAE [--sae-out SAE] [--top K] [--directions N] [--pairs N]] --out DIR [--plot FILE]",
      "  spectrum.csv       layer,head,circuit,k,sigma    singular values of W_QK = W_Q W_Kᵀ and W_OV = W_V W_O",
      "                     (norm gains folded in; --augmented: GPT-2's bias row and column, Franco & Crovella)",
      "  loadings.csv       layer,head,circuit,k,side,feature,loading   with --sae: the K (default 10) features",
      "                     loading most on each of the first N (default all) singular directions, per side",
      "                     (query/key for QK; value, and output with --sae-out, for OV)",
      "  contributions.csv  with --sae and --pairs N: each head's top-N table entries split over directions:",
      "                     layer,head,circuit,row_feature,col_feature,value,directions_90,order,k,sigma,contribution",
      "                     (the directions carrying 90% of Σ|contribution|, largest first)",
      "");
  private static final List<String> VALUES = new ArrayList<>(LayerInputs.OPTIONS);

  static {
    VALUES.addAll(List.of("--heads", "--circuit", "--top", "--directions", "--pairs", "--out", "--plot"));
  }

  private final PrintStream out;

  SvdCommand(PrintStream out) {
    this.out = out;
  }

  int run(String[] argv) throws IOException {
    Args a = new Args("svd", argv, VALUES, List.of("--augmented", "--help"));
    if (a.has("--help")) {
      out.print(HELP);
      return 0;
    }
    Path dir = Path.of(a.require("--out"));
    String circuit = a.get("--circuit", "both");
    List<CircuitKind> kinds = switch (circuit) {
      case "qk" -> List.of(CircuitKind.QK);
      case "ov" -> List.of(CircuitKind.OV);
      case "both" -> List.of(CircuitKind.QK, CircuitKind.OV);
      default -> throw new IllegalArgumentException("--circuit " + circuit + ": expected qk, ov or both");
    };
    int top = a.intValue("--top", 10);
    int pairs = a.intValue("--pairs", 0);
    if (top < 1 || pairs < 0) {
      throw new IllegalArgumentException("--top must be ≥ 1 and --pairs ≥ 0");
    }
    try (LayerInputs in = LayerInputs.open(a, false, false)) {
      var c = in.model.config();
      int directions = a.intValue("--directions", c.dHead());
      int[] heads = TablesCommand.parseHeads(a.get("--heads", "all"), c.nHeads()).resolve(c);
      AttentionWeights attn = in.model.attention(in.layer);
      if (a.has("--augmented") && attn.bQ() == null && attn.bK() == null && attn.inputNorm().bias() == null) {
        out.println("note: " + c.modelType() + " has no query/key biases; the augmented form has the plain spectrum");
      }
      boolean centred = in.out != null && in.out.config().centeredStream();
      StringBuilder spectrum = new StringBuilder("layer,head,circuit,k,sigma\n");
      StringBuilder loadings = new StringBuilder("layer,head,circuit,k,side,feature,loading\n");
      StringBuilder contrib = new StringBuilder(
          "layer,head,circuit,row_feature,col_feature,value,directions_90,order,k,sigma,contribution\n");
      List<HeadSvd> all = new ArrayList<>();
      INDArray enc = in.out == null ? null : in.out.wEnc().transpose();
      try (FeatureCircuits fc = in.in != null && pairs > 0 ? FeatureCircuits.of(attn, in.in, in.keySae(), in.out)
          : null) {
        for (CircuitKind kind : kinds) {
          for (int h : heads) {
            HeadSvd s = kind == CircuitKind.QK ? HeadSvd.qk(attn, h, a.has("--augmented"))
                : HeadSvd.ov(attn, h, centred);
            all.add(s);
            double[] sig = s.sigma();
            for (int k = 0; k < sig.length; k++) {
              spectrum.append(in.layer).append(',').append(h).append(',').append(kind.id()).append(',').append(k)
                  .append(',').append(sig[k]).append('\n');
            }
            if (in.in == null) {
              continue;
            }
            HeadSvd.Side left = kind == CircuitKind.QK ? HeadSvd.Side.QUERY : HeadSvd.Side.VALUE;
            HeadSvd.Side right = kind == CircuitKind.QK ? HeadSvd.Side.KEY : HeadSvd.Side.OUTPUT;
            appendLoadings(loadings, s, left, s.loadings(in.in.wDec(), left, directions), top);
            INDArray rightRows = kind == CircuitKind.QK ? in.keySae().wDec() : enc;
            if (rightRows != null) {
              appendLoadings(loadings, s, right, s.loadings(rightRows, right, directions), top);
            }
            if (fc != null && (kind == CircuitKind.QK || in.out != null)) {
              CircuitTable t = fc.compute(CircuitSpec.defaults().withKinds(EnumSet.of(kind)).withHeads(h)
                  .withTopK(pairs), Progress.NONE).get(0);
              SaeDictionary colSae = kind == CircuitKind.QK ? in.keySae() : null;
              for (FeatureEdge e : t.edges()) {
                double[] x = in.in.wDec().getRow(e.row()).toDoubleVector();
                double[] y = colSae != null ? colSae.wDec().getRow(e.col()).toDoubleVector()
                    : enc.getRow(e.col()).toDoubleVector();
                HeadSvd.Split sp = s.split(x, y);
                int need = sp.directionsFor(0.9);
                for (int i = 0; i < need; i++) {
                  HeadSvd.Contribution ct = sp.terms().get(i);
                  contrib.append(in.layer).append(',').append(h).append(',').append(kind.id()).append(',')
                      .append(e.row()).append(',').append(e.col()).append(',').append(e.value()).append(',')
                      .append(need).append(',').append(i + 1).append(',').append(ct.k()).append(',')
                      .append((float) ct.sigma()).append(',').append((float) ct.value()).append('\n');
                }
              }
            }
          }
        }
      }
      TableWriter.write(dir.resolve("spectrum.csv"), spectrum);
      out.println("wrote " + dir.resolve("spectrum.csv") + " (" + all.size() + " head circuits)");
      if (in.in != null) {
        TableWriter.write(dir.resolve("loadings.csv"), loadings);
        out.println("wrote " + dir.resolve("loadings.csv"));
        if (pairs > 0) {
          TableWriter.write(dir.resolve("contributions.csv"), contrib);
          out.println("wrote " + dir.resolve("contributions.csv"));
        }
      }
      if (a.has("--plot")) {
        Path plot = Path.of(a.get("--plot", ""));
        Plots.save(Plots.spectra(all), plot);
        out.println("wrote " + plot);
      }
    }
    return 0;
  }

  private static void appendLoadings(StringBuilder sb, HeadSvd s, HeadSvd.Side side, float[][] load, int top) {
    for (int k = 0; k < load.length; k++) {
      float[] l = load[k];
      int[] idx = HeadSvd.topByAbs(l, top);
      for (int i = 0; i < idx.length; i++) {
        sb.append(s.layer()).append(',').append(s.head()).append(',').append(s.kind().id()).append(',').append(k)
            .append(',').append(side.id()).append(',').append(idx[i]).append(',').append(l[idx[i]]).append('\n');
      }
    }
  }
}
