package dev.saelab.cli;

import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.RankBy;
import dev.saelab.circuits.TableWriter;
import dev.saelab.labels.FeatureLabels;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** {@code saelab feature}: one feature's strongest partners in every head, and its projection norms per head. */
final class FeatureCommand {
  static final String HELP = String.join("\n",
      "usage: saelab feature --model MODEL --layer L --sae-in SAE [--sae-out SAE] --feature N",
      "         [--roles query,key,value,output] [--heads all|0,3] [--top K] [--rank-by abs|value|-value] [--cosine]",
      "         [--labels-in LABELS] [--labels-out LABELS] --out DIR",
      "  partners.csv  layer,head,role,feature,rank,partner,value[,partner_label]: as a query, the keys it attends",
      "                to; as a key, the queries attending to it; as a value, the outputs it writes; as an output",
      "                (feature N of the output SAE), the values writing it",
      "  norms.csv     layer,head,q_norm,k_norm,v_norm,p_norm   (p: output-SAE feature N)",
      "");
  private static final List<String> VALUES = new ArrayList<>(LayerInputs.OPTIONS);

  static {
    VALUES.addAll(List.of("--feature", "--roles", "--heads", "--top", "--rank-by", "--out"));
  }

  private final PrintStream out;

  FeatureCommand(PrintStream out) {
    this.out = out;
  }

  int run(String[] argv) {
    Args a = new Args("feature", argv, VALUES, List.of("--cosine", "--help"));
    if (a.has("--help")) {
      out.print(HELP);
      return 0;
    }
    Path dir = Path.of(a.require("--out"));
    int feature = a.intValue("--feature", -1);
    a.require("--feature");
    int top = a.intValue("--top", 10);
    RankBy rankBy = RankBy.parse(a.get("--rank-by", "abs"));
    List<FeatureCircuits.Role> roles = new ArrayList<>();
    String rolesArg = a.get("--roles", a.has("--sae-out") ? "query,key,value,output" : "query,key,value");
    for (String r : rolesArg.split(",")) {
      roles.add(FeatureCircuits.Role.parse(r.strip()));
    }
    try (LayerInputs in = LayerInputs.open(a, true, roles.contains(FeatureCircuits.Role.OUTPUT));
        FeatureCircuits fc = FeatureCircuits.of(in.model.attention(in.layer), in.in, in.keySae(), in.out)) {
      var c = in.model.config();
      int[] heads = TablesCommand.parseHeads(a.get("--heads", "all"), c.nHeads()).resolve(c);
      boolean labels = in.labelsIn != null || in.labelsOut != null;
      StringBuilder sb = new StringBuilder("layer,head,role,feature,rank,partner,value" + (labels ? ",partner_label"
          : "") + "\n");
      int rows = 0;
      for (FeatureCircuits.Role role : roles) {
        for (int h : heads) {
          List<FeatureEdge> es = fc.partners(feature, role, h, top, rankBy, a.has("--cosine"));
          FeatureLabels pl = role == FeatureCircuits.Role.VALUE ? in.labelsOut : in.labelsIn;
          int rank = 1;
          for (FeatureEdge e : es) {
            int partner = role.partner(e);
            sb.append(in.layer).append(',').append(h).append(',').append(role.id()).append(',').append(feature)
                .append(',').append(rank++).append(',').append(partner).append(',').append(e.value());
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
        ns.append(in.layer).append(',').append(h);
        for (double[] row : n) {
          ns.append(',').append(Double.isNaN(row[h]) ? "" : Float.toString((float) row[h]));
        }
        ns.append('\n');
      }
      TableWriter.write(dir.resolve("norms.csv"), ns);
      out.println("wrote " + dir.resolve("partners.csv") + " (" + rows + " rows, roles " + Arrays.toString(
          roles.stream().map(FeatureCircuits.Role::id).toArray()) + ") and " + dir.resolve("norms.csv"));
    }
    return 0;
  }
}
