package dev.saelab.atlas;

import dev.saelab.atlas.AtlasRows.Type;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.labels.FeatureLabels;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * Turns a partition's merged result into its rows ({@link AtlasRows}), with the columns of the
 * {@code saelab tables} CSV and labels joined when given:
 *
 * <ul>
 *   <li>{@code table/layer=L/head=H/circuit=C}: {@code
 *       circuit,layer,head,rank,query_feature,key_feature,value} (OV: {@code value_feature,
 *       output_feature}), {@code qk_norm} for QK of models with q/k norms, then {@code
 *       query_label,key_label} (or value/output);
 *   <li>{@code partners/layer=L/head=H/circuit=C}: {@code circuit,layer,head,role,rank,...} the
 *       same pair columns: every row feature's (role query or value) and column feature's (key or
 *       output) top partners, by role, then feature, then rank;
 *   <li>{@code summary/layer=L/circuit=C}: the circuit summed over heads as {@code saelab tables
 *       --heads sum --breakdown} writes it ({@code head} = sum, {@code head_spread}, {@code
 *       weak_in_every_head}, {@code head_0..});
 *   <li>{@code spectra/layer=L/circuit=C}: {@code layer,head,circuit,k,sigma}, as {@code saelab
 *       svd} writes spectrum.csv.
 * </ul>
 */
public final class AtlasTables {
  private AtlasTables() {}

  /**
   * The rows of a merged partition.
   *
   * @param r the merged result
   * @param rowLabels labels of the row features (input SAE), or null
   * @param colLabels labels of the column features (input SAE for QK keys, output SAE for OV), or
   *     null
   * @param withLabels whether the label columns are written (empty cells where labels are missing)
   */
  public static List<AtlasRows> rows(
      UnitResult r, FeatureLabels rowLabels, FeatureLabels colLabels, boolean withLabels) {
    WorkUnit u = r.unit();
    CircuitKind kind = u.circuit();
    List<AtlasRows> out = new ArrayList<>();
    switch (u.part()) {
      case TABLE -> {
        out.add(table(r, rowLabels, colLabels, withLabels));
        if (r.perFeature() > 0) {
          out.add(partners(r, rowLabels, colLabels, withLabels));
        }
      }
      case SUM -> out.add(sum(r, rowLabels, colLabels, withLabels));
      case SPECTRA -> out.add(spectra(r));
      default -> throw new IllegalStateException(u.part().toString());
    }
    return out;
  }

  private static LinkedHashMap<String, String> partition(WorkUnit u, boolean head) {
    LinkedHashMap<String, String> p = new LinkedHashMap<>();
    p.put("layer", Integer.toString(u.layer()));
    if (head) {
      p.put("head", Integer.toString(u.head()));
    }
    p.put("circuit", u.circuit().id());
    return p;
  }

  private static void pairColumns(
      List<String> cols, List<Type> types, CircuitKind kind, boolean variant) {
    cols.add(kind.rowColumn());
    cols.add(kind.colColumn());
    cols.add("value");
    types.add(Type.INT);
    types.add(Type.INT);
    types.add(Type.FLOAT);
    if (variant) {
      cols.add("qk_norm");
      types.add(Type.STRING);
    }
  }

  private static void labelColumns(
      List<String> cols, List<Type> types, CircuitKind kind, boolean withLabels) {
    if (withLabels) {
      cols.add(kind.rowColumn().replace("_feature", "") + "_label");
      cols.add(kind.colColumn().replace("_feature", "") + "_label");
      types.add(Type.STRING);
      types.add(Type.STRING);
    }
  }

  private static String label(FeatureLabels l, int f) {
    return l == null ? "" : l.labelOrEmpty(f);
  }

  private static float scaled(UnitResult r, float raw) {
    return r.scale() == 1.0 ? raw : (float) (raw * r.scale());
  }

  private static AtlasRows table(
      UnitResult r, FeatureLabels rowLabels, FeatureLabels colLabels, boolean withLabels) {
    WorkUnit u = r.unit();
    CircuitKind kind = u.circuit();
    boolean variant = !r.variant().isEmpty();
    List<String> cols = new ArrayList<>(List.of("circuit", "layer", "head", "rank"));
    List<Type> types = new ArrayList<>(List.of(Type.STRING, Type.INT, Type.INT, Type.INT));
    pairColumns(cols, types, kind, variant);
    labelColumns(cols, types, kind, withLabels);
    List<Object[]> rows = new ArrayList<>(r.size());
    for (int i = 0; i < r.size(); i++) {
      List<Object> row = new ArrayList<>(cols.size());
      row.add(kind.id());
      row.add(u.layer());
      row.add(u.head());
      row.add(i + 1);
      row.add(r.rows()[i]);
      row.add(r.cols()[i]);
      row.add(scaled(r, r.values()[i]));
      if (variant) {
        row.add(r.variant());
      }
      if (withLabels) {
        row.add(label(rowLabels, r.rows()[i]));
        row.add(label(colLabels, r.cols()[i]));
      }
      rows.add(row.toArray());
    }
    return new AtlasRows("table", partition(u, true), cols, types, rows);
  }

  private static AtlasRows partners(
      UnitResult r, FeatureLabels rowLabels, FeatureLabels colLabels, boolean withLabels) {
    WorkUnit u = r.unit();
    CircuitKind kind = u.circuit();
    boolean variant = !r.variant().isEmpty();
    List<String> cols = new ArrayList<>(List.of("circuit", "layer", "head", "role", "rank"));
    List<Type> types =
        new ArrayList<>(List.of(Type.STRING, Type.INT, Type.INT, Type.STRING, Type.INT));
    pairColumns(cols, types, kind, variant);
    labelColumns(cols, types, kind, withLabels);
    List<Object[]> rows = new ArrayList<>();
    String[] roles =
        kind == CircuitKind.QK ? new String[] {"query", "key"} : new String[] {"value", "output"};
    UnitResult.Partners[] sides = {r.rowPartners(), r.colPartners()};
    for (int s = 0; s < 2; s++) {
      UnitResult.Partners p = sides[s];
      if (p == null) {
        continue;
      }
      for (int f = 0; f < p.size(); f++) {
        int feature = p.features()[f];
        for (int at = p.offsets()[f]; at < p.offsets()[f + 1]; at++) {
          int row = s == 0 ? feature : p.partners()[at];
          int col = s == 0 ? p.partners()[at] : feature;
          List<Object> o = new ArrayList<>(cols.size());
          o.add(kind.id());
          o.add(u.layer());
          o.add(u.head());
          o.add(roles[s]);
          o.add(at - p.offsets()[f] + 1);
          o.add(row);
          o.add(col);
          o.add(scaled(r, p.values()[at]));
          if (variant) {
            o.add(r.variant());
          }
          if (withLabels) {
            o.add(label(rowLabels, row));
            o.add(label(colLabels, col));
          }
          rows.add(o.toArray());
        }
      }
    }
    return new AtlasRows("partners", partition(u, true), cols, types, rows);
  }

  private static AtlasRows sum(
      UnitResult r, FeatureLabels rowLabels, FeatureLabels colLabels, boolean withLabels) {
    WorkUnit u = r.unit();
    CircuitKind kind = u.circuit();
    UnitResult.Sum s = r.sum();
    int nh = s.perHead().length == 0 ? 0 : s.perHead()[0].length;
    List<String> cols = new ArrayList<>(List.of("circuit", "layer", "head", "rank"));
    List<Type> types = new ArrayList<>(List.of(Type.STRING, Type.INT, Type.STRING, Type.INT));
    pairColumns(cols, types, kind, false);
    cols.add("head_spread");
    cols.add("weak_in_every_head");
    types.add(Type.INT);
    types.add(Type.BOOLEAN);
    for (int h = 0; h < nh; h++) {
      cols.add("head_" + h);
      types.add(Type.FLOAT);
    }
    labelColumns(cols, types, kind, withLabels);
    List<Object[]> rows = new ArrayList<>();
    for (int i = 0; i < s.rows().length; i++) {
      List<Object> o = new ArrayList<>(cols.size());
      o.add(kind.id());
      o.add(u.layer());
      o.add("sum");
      o.add(i + 1);
      o.add(s.rows()[i]);
      o.add(s.cols()[i]);
      o.add(s.values()[i]);
      o.add(s.headSpread()[i]);
      o.add(s.weakInEveryHead()[i]);
      for (int h = 0; h < nh; h++) {
        o.add(s.perHead()[i][h]);
      }
      if (withLabels) {
        o.add(label(rowLabels, s.rows()[i]));
        o.add(label(colLabels, s.cols()[i]));
      }
      rows.add(o.toArray());
    }
    return new AtlasRows("summary", partition(u, false), cols, types, rows);
  }

  private static AtlasRows spectra(UnitResult r) {
    WorkUnit u = r.unit();
    List<String> cols = List.of("layer", "head", "circuit", "k", "sigma");
    List<Type> types = List.of(Type.INT, Type.INT, Type.STRING, Type.INT, Type.DOUBLE);
    List<Object[]> rows = new ArrayList<>();
    for (int h = 0; h < r.sigma().length; h++) {
      for (int k = 0; k < r.sigma()[h].length; k++) {
        rows.add(new Object[] {u.layer(), h, u.circuit().id(), k, r.sigma()[h][k]});
      }
    }
    return new AtlasRows(
        "spectra", partition(u, false), new ArrayList<>(cols), new ArrayList<>(types), rows);
  }
}
