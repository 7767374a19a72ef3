package dev.saelab.cli;

import dev.saelab.api.Analyses;
import dev.saelab.api.Analysis;
import dev.saelab.api.Plots;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitSpec;
import dev.saelab.circuits.CircuitTable;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.HeadSvd;
import dev.saelab.circuits.TableWriter;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.Progress;
import dev.saelab.model.AttentionWeights;
import dev.saelab.sae.SaeDictionary;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code saelab svd} / {@code %svd}: Franco &amp; Crovella's singular-value view of each head's QK
 * and OV circuits.
 */
@Command(
    name = "svd",
    description =
        "Singular values of each head's QK circuit W_Q W_Kᵀ and OV circuit W_V W_O (norm gains"
            + " folded in); with an SAE, the features loading most on each singular direction, and"
            + " each head's top table entries split over directions. Files in --out: spectrum.csv"
            + " (layer,head,circuit,k,sigma), loadings.csv"
            + " (layer,head,circuit,k,side,feature,loading), contributions.csv with --pairs N"
            + " (layer,head,circuit,row_feature,col_feature,value,directions_90,order,k,sigma,contribution:"
            + " the directions carrying 90%% of Σ|contribution|, largest first). In a notebook: the"
            + " spectra, or with --side the loadings of one head.",
    footer = {
      "",
      "Examples:",
      "  saelab svd --model datasets/tiny-gpt2 --layer 1 --sae-in"
          + " datasets/tiny-saelens/blocks.1.hook_resid_pre --sae-out"
          + " datasets/tiny-saelens/blocks.1.hook_resid_post --directions 2 --top 5 --pairs 3 --out"
          + " target/svd --plot target/svd/spectra.png",
      "  saelab svd --model datasets/tiny-gpt2 --layer 1 --sae-in"
          + " datasets/tiny-saelens/blocks.1.hook_resid_pre --circuit qk --head 1 --side query"
          + " --directions 2 --top 8 --out target/svd-q"
    })
public final class SvdCommand extends CliCommand implements Shared {
  @Mixin InputOptions inputs;

  @Mixin Options.HeadsOption heads;

  @Option(
      names = "--circuit",
      paramLabel = "qk|ov|both",
      defaultValue = "both",
      converter = Converters.CircuitsConverter.class,
      description = "which circuits (default both)")
  Set<CircuitKind> circuit;

  @Option(
      names = "--augmented",
      description = "QK with GPT-2's bias row and column (Franco & Crovella)")
  boolean augmented;

  @Option(
      names = "--head",
      paramLabel = "H",
      converter = Converters.NonNegativeConverter.class,
      description =
          "only this head (in a notebook, with --side: the head whose loadings are returned)")
  Integer head;

  @Option(
      names = "--side",
      paramLabel = "query|key|value|output",
      converter = SideConverter.class,
      description =
          "only this side's loadings (in a notebook: with --circuit and --head, that head's"
              + " loadings)")
  HeadSvd.Side side;

  @Option(
      names = "--directions",
      paramLabel = "N",
      converter = Converters.PositiveConverter.class,
      description = "loadings on the first N singular directions (default all)")
  Integer directions;

  @Option(
      names = "--top",
      paramLabel = "K",
      defaultValue = "10",
      converter = Converters.PositiveConverter.class,
      description = "features per direction and side (default ${DEFAULT-VALUE})")
  int top;

  @Option(
      names = "--pairs",
      paramLabel = "N",
      defaultValue = "0",
      converter = Converters.NonNegativeConverter.class,
      description = "split each head's top-N table entries over the directions (contributions.csv)")
  int pairs;

  @Option(
      names = "--out",
      paramLabel = "DIR",
      description = "where to write (required on the command line)")
  Path outPath;

  @Option(names = "--plot", paramLabel = "FILE.png|FILE.svg", description = "also draw the spectra")
  Path plot;

  /** {@code query}, {@code key}, {@code value} or {@code output}. */
  public static final class SideConverter
      implements picocli.CommandLine.ITypeConverter<HeadSvd.Side> {
    @Override
    public HeadSvd.Side convert(String s) {
      return Converters.domain(s, HeadSvd.Side::parse);
    }
  }

  @Override
  public InputOptions inputs() {
    return inputs;
  }

  private int[] heads(Layer l) {
    int[] hs = heads.list(l.model().config().nHeads());
    if (head == null) {
      return hs;
    }
    if (java.util.Arrays.stream(hs).noneMatch(h -> h == head)) {
      throw new IllegalArgumentException("--head " + head + " is not among --heads " + heads);
    }
    return new int[] {head};
  }

  private HeadSvd svd(Layer l, CircuitKind kind, int h) {
    AttentionWeights attn = l.model().attention(l.layer());
    return kind == CircuitKind.QK
        ? HeadSvd.qk(attn, h, augmented)
        : HeadSvd.ov(attn, h, l.saeOut() != null && l.saeOut().config().centeredStream());
  }

  private List<CircuitKind> kinds() {
    if (side != null && !circuit.contains(side.kind())) {
      throw new IllegalArgumentException(
          "--side " + side.id() + " belongs to the " + side.kind() + " circuit");
    }
    return side != null ? List.of(side.kind()) : List.copyOf(new java.util.TreeSet<>(circuit));
  }

  private static INDArray rows(Layer l, HeadSvd.Side side) {
    return switch (side) {
      case QUERY, VALUE -> l.requireSaeIn().wDec();
      case KEY -> l.keySae().wDec();
      case OUTPUT -> l.requireSaeOut("output-side loadings").wEnc().transpose();
    };
  }

  @Override
  public Object result(Layer l) throws Exception {
    List<CircuitKind> kinds = kinds();
    int[] hs = heads(l);
    if (side == null) {
      List<HeadSvd> all = new ArrayList<>();
      for (CircuitKind kind : kinds) {
        for (int h : hs) {
          all.add(svd(l, kind, h));
        }
      }
      Analysis a = Analyses.spectra(all);
      if (outPath != null) {
        write(l);
      }
      if (plot != null) {
        Plots.save(a.plot(), plot);
      }
      return a;
    }
    if (head == null) {
      throw new IllegalArgumentException("loadings need --circuit qk|ov, --head H and --side");
    }
    HeadSvd s = svd(l, side.kind(), hs[0]);
    FeatureLabels labels =
        switch (side) {
          case OUTPUT -> l.labelsOut();
          case KEY -> l.keyLabels();
          default -> l.labelsIn();
        };
    Analysis a =
        Analyses.loadings(
            s,
            side,
            rows(l, side),
            labels,
            directions == null ? s.sigma().length : directions,
            top);
    if (outPath != null) {
      write(l);
    }
    return a;
  }

  @Override
  public Integer call() throws Exception {
    requireOut(outPath, "DIR");
    try (LayerInputs in = LayerInputs.open(inputs, false, false, err::println)) {
      return write(in);
    }
  }

  /** Computes on {@code in} and writes the files of {@code --out}, as the command line does. */
  private int write(Layer in) throws Exception {
    Path dir = outPath;
    {
      var c = in.model().config();
      List<CircuitKind> kinds = kinds();
      int dirs = directions == null ? c.dHead() : directions;
      int[] hs = heads(in);
      AttentionWeights attn = in.model().attention(in.layer());
      if (augmented && attn.bQ() == null && attn.bK() == null && attn.inputNorm().bias() == null) {
        out.println(
            "note: "
                + c.modelType()
                + " has no query/key biases; the augmented form has the plain"
                + " spectrum");
      }
      StringBuilder spectrum = new StringBuilder("layer,head,circuit,k,sigma\n");
      StringBuilder loadings = new StringBuilder("layer,head,circuit,k,side,feature,loading\n");
      StringBuilder contrib =
          new StringBuilder(
              "layer,head,circuit,row_feature,col_feature,value,directions_90,order,k,sigma,contribution\n");
      List<HeadSvd> all = new ArrayList<>();
      INDArray enc = in.saeOut() == null ? null : in.saeOut().wEnc().transpose();
      try (FeatureCircuits fc =
          in.saeIn() != null && pairs > 0
              ? FeatureCircuits.of(attn, in.saeIn(), in.keySae(), in.saeOut())
              : null) {
        for (CircuitKind kind : kinds) {
          for (int h : hs) {
            HeadSvd s = svd(in, kind, h);
            all.add(s);
            double[] sig = s.sigma();
            for (int k = 0; k < sig.length; k++) {
              spectrum
                  .append(in.layer())
                  .append(',')
                  .append(h)
                  .append(',')
                  .append(kind.id())
                  .append(',')
                  .append(k)
                  .append(',')
                  .append(sig[k])
                  .append('\n');
            }
            if (in.saeIn() == null) {
              continue;
            }
            HeadSvd.Side left = kind == CircuitKind.QK ? HeadSvd.Side.QUERY : HeadSvd.Side.VALUE;
            HeadSvd.Side right = kind == CircuitKind.QK ? HeadSvd.Side.KEY : HeadSvd.Side.OUTPUT;
            if (side == null || side == left) {
              appendLoadings(loadings, s, left, s.loadings(in.saeIn().wDec(), left, dirs), top);
            }
            INDArray rightRows = kind == CircuitKind.QK ? in.keySae().wDec() : enc;
            if (rightRows != null && (side == null || side == right)) {
              appendLoadings(loadings, s, right, s.loadings(rightRows, right, dirs), top);
            }
            if (fc != null && (kind == CircuitKind.QK || in.saeOut() != null)) {
              CircuitTable t =
                  fc.compute(
                          CircuitSpec.defaults()
                              .withKinds(EnumSet.of(kind))
                              .withHeads(h)
                              .withTopK(pairs),
                          Progress.NONE)
                      .get(0);
              SaeDictionary colSae = kind == CircuitKind.QK ? in.keySae() : null;
              for (FeatureEdge e : t.edges()) {
                double[] x = in.saeIn().wDec().getRow(e.row()).toDoubleVector();
                double[] y =
                    colSae != null
                        ? colSae.wDec().getRow(e.col()).toDoubleVector()
                        : enc.getRow(e.col()).toDoubleVector();
                HeadSvd.Split sp = s.split(x, y);
                int need = sp.directionsFor(0.9);
                for (int i = 0; i < need; i++) {
                  HeadSvd.Contribution ct = sp.terms().get(i);
                  contrib
                      .append(in.layer())
                      .append(',')
                      .append(h)
                      .append(',')
                      .append(kind.id())
                      .append(',')
                      .append(e.row())
                      .append(',')
                      .append(e.col())
                      .append(',')
                      .append(e.value())
                      .append(',')
                      .append(need)
                      .append(',')
                      .append(i + 1)
                      .append(',')
                      .append(ct.k())
                      .append(',')
                      .append((float) ct.sigma())
                      .append(',')
                      .append((float) ct.value())
                      .append('\n');
                }
              }
            }
          }
        }
      }
      TableWriter.write(dir.resolve("spectrum.csv"), spectrum);
      out.println("wrote " + dir.resolve("spectrum.csv") + " (" + all.size() + " head circuits)");
      if (in.saeIn() != null) {
        TableWriter.write(dir.resolve("loadings.csv"), loadings);
        out.println("wrote " + dir.resolve("loadings.csv"));
        if (pairs > 0) {
          TableWriter.write(dir.resolve("contributions.csv"), contrib);
          out.println("wrote " + dir.resolve("contributions.csv"));
        }
      }
      if (plot != null) {
        Plots.save(Plots.spectra(all), plot);
        out.println("wrote " + plot);
      }
    }
    return 0;
  }

  private static void appendLoadings(
      StringBuilder sb, HeadSvd s, HeadSvd.Side side, float[][] load, int top) {
    for (int k = 0; k < load.length; k++) {
      float[] l = load[k];
      int[] idx = HeadSvd.topByAbs(l, top);
      for (int i = 0; i < idx.length; i++) {
        sb.append(s.layer())
            .append(',')
            .append(s.head())
            .append(',')
            .append(s.kind().id())
            .append(',')
            .append(k)
            .append(',')
            .append(side.id())
            .append(',')
            .append(idx[i])
            .append(',')
            .append(l[idx[i]])
            .append('\n');
      }
    }
  }
}
