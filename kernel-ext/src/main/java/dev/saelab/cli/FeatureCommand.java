package dev.saelab.cli;

import dev.saelab.api.Analyses;
import dev.saelab.api.Analysis;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.FeatureRole;
import dev.saelab.circuits.TableWriter;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.linalg.FeatureEdge;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code saelab feature} / {@code %feature}: one feature's strongest partners in every head, and
 * its norms per head.
 */
@Command(
    name = "feature",
    description =
        "Drill-down: feature N's top partners in each head as a query (the keys it attends to), a"
            + " key (the queries attending to it) and, with --sae-out, a value (the outputs it"
            + " writes) and an output (feature N of the output SAE: the values writing it); and its"
            + " q/k/v/p norms per head. Files in --out: partners.csv"
            + " (layer,head,role,feature,rank,partner,value[,partner_label]) and norms.csv"
            + " (layer,head,q_norm,k_norm,v_norm,p_norm).",
    footer = {
      "",
      "Examples:",
      "  saelab feature 17 --model datasets/tiny-gemma2 --layer 1 --sae-in"
          + " datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12 --top 3 --out"
          + " target/feature-17"
    })
public final class FeatureCommand extends CliCommand implements Shared {
  @Mixin InputOptions inputs;

  @Parameters(
      index = "0",
      arity = "0..1",
      paramLabel = "N",
      description = "the feature (of the input SAE; of the" + " output SAE as an output)")
  Integer feature;

  @Option(
      names = "--roles",
      paramLabel = "query,key,value,output",
      split = ",",
      converter = RoleConverter.class,
      description =
          "which roles (default query,key, and value,output with --sae-out: the OV circuit needs"
              + " it)")
  List<FeatureRole> roles;

  @Mixin Options.HeadsOption heads;
  @Mixin Options.QkNormOption qkNorm;

  @Option(
      names = "--top",
      paramLabel = "K",
      defaultValue = "10",
      converter = Converters.PositiveConverter.class,
      description = "partners per head and role (default ${DEFAULT-VALUE})")
  int top;

  @Mixin Options.RankByOption rankBy;

  @Option(names = "--cosine", description = "cosine-normalised values")
  boolean cosine;

  @Option(
      names = "--out",
      paramLabel = "DIR",
      description = "where to write (required on the command line)")
  Path outPath;

  /** {@code query}, {@code key}, {@code value} or {@code output}. */
  public static final class RoleConverter
      implements picocli.CommandLine.ITypeConverter<FeatureRole> {
    @Override
    public FeatureRole convert(String s) {
      return Converters.domain(s.strip(), FeatureRole::parse);
    }
  }

  @Override
  public InputOptions inputs() {
    return inputs;
  }

  private int feature() {
    if (feature == null) {
      throw new IllegalArgumentException(
          "expected a feature index first, e.g. feature 17 --heads 1");
    }
    return feature;
  }

  private List<FeatureRole> roles(Layer l) {
    if (roles != null) {
      return roles;
    }
    return l.saeOut() != null
        ? List.of(FeatureRole.values())
        : List.of(FeatureRole.QUERY, FeatureRole.KEY);
  }

  private int[] heads(Layer l) {
    return heads.list(l.model().config().nHeads());
  }

  private FeatureCircuits open(Layer l) {
    if (roles(l).contains(FeatureRole.VALUE) || roles(l).contains(FeatureRole.OUTPUT)) {
      l.requireSaeOut("the value and output roles (OV circuit)");
    }
    return Queries.of(l, err::println).qkNorm(qkNorm.value()).open();
  }

  @Override
  public Object result(Layer l) throws Exception {
    feature();
    try (FeatureCircuits fc = open(l)) {
      Analysis a =
          Analyses.feature(
              fc,
              feature(),
              roles(l),
              heads(l),
              top,
              rankBy.value(),
              cosine,
              l.labelsIn(),
              l.keyLabels(),
              l.labelsOut());
      if (outPath != null) {
        write(l);
      }
      return a;
    }
  }

  @Override
  public Integer call() throws Exception {
    requireOut(outPath, "DIR");
    try (LayerInputs in =
        LayerInputs.open(
            inputs,
            true,
            roles != null
                && (roles.contains(FeatureRole.VALUE) || roles.contains(FeatureRole.OUTPUT)),
            err::println)) {
      return write(in);
    }
  }

  /** Computes on {@code in} and writes the files of {@code --out}, as the command line does. */
  private int write(Layer in) {
    Path dir = outPath;
    int feature = feature();
    try (FeatureCircuits fc = open(in)) {
      var c = in.model().config();
      List<FeatureRole> rs = roles(in);
      boolean labels = in.labelsIn() != null || in.labelsOut() != null;
      StringBuilder sb =
          new StringBuilder(
              "layer,head,role,feature,rank,partner,value"
                  + (labels ? ",partner_label" : "")
                  + "\n");
      int rows = 0;
      for (FeatureRole role : rs) {
        FeatureLabels pl =
            Analyses.partnerLabels(role, in.labelsIn(), in.keyLabels(), in.labelsOut());
        for (int h : heads(in)) {
          int rank = 1;
          for (FeatureEdge e : fc.partners(feature, role, h, top, rankBy.value(), cosine)) {
            int partner = role.partner(e);
            sb.append(in.layer())
                .append(',')
                .append(h)
                .append(',')
                .append(role.id())
                .append(',')
                .append(feature)
                .append(',')
                .append(rank++)
                .append(',')
                .append(partner)
                .append(',')
                .append(e.value());
            if (labels) {
              sb.append(',').append(TableWriter.quote(pl == null ? "" : pl.labelOrEmpty(partner)));
            }
            sb.append('\n');
            rows++;
          }
        }
      }
      TableWriter.write(dir.resolve("partners.csv"), sb);
      double[][] n = fc.norms(feature);
      StringBuilder ns = new StringBuilder("layer,head,q_norm,k_norm,v_norm,p_norm\n");
      for (int h = 0; h < c.nHeads(); h++) {
        ns.append(in.layer()).append(',').append(h);
        for (double[] row : n) {
          ns.append(',').append(Double.isNaN(row[h]) ? "" : Float.toString((float) row[h]));
        }
        ns.append('\n');
      }
      TableWriter.write(dir.resolve("norms.csv"), ns);
      List<String> ids = new ArrayList<>();
      rs.forEach(r -> ids.add(r.id()));
      out.println(
          "wrote "
              + dir.resolve("partners.csv")
              + " ("
              + rows
              + " rows, roles "
              + Arrays.toString(ids.toArray())
              + ") and "
              + dir.resolve("norms.csv"));
    }
    return 0;
  }
}
