package dev.saelab.api;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.FeatureRole;
import dev.saelab.circuits.HeadSvd;
import dev.saelab.circuits.LayerTable;
import dev.saelab.circuits.PositionalProfile;
import dev.saelab.circuits.QkOvScatter;
import dev.saelab.circuits.ScoreValidation;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.RankBy;
import java.util.List;
import tech.tablesaw.api.BooleanColumn;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * Turns the analyses' results into notebook {@link Analysis} objects (table + plot). Same columns
 * as the CSVs.
 */
public final class Analyses {
  private Analyses() {}

  /**
   * Positional profiles: {@code layer, head, query_feature, key_feature, delta, score, masked} and
   * the line plot.
   */
  public static Analysis profile(List<PositionalProfile.Point> pts, int window) {
    Table t =
        Table.create(
            "positional profile",
            IntColumn.create(
                "layer", pts.stream().mapToInt(PositionalProfile.Point::layer).toArray()),
            IntColumn.create(
                "head", pts.stream().mapToInt(PositionalProfile.Point::head).toArray()),
            IntColumn.create(
                "query_feature",
                pts.stream().mapToInt(PositionalProfile.Point::queryFeature).toArray()),
            IntColumn.create(
                "key_feature",
                pts.stream().mapToInt(PositionalProfile.Point::keyFeature).toArray()),
            IntColumn.create(
                "delta", pts.stream().mapToInt(PositionalProfile.Point::delta).toArray()),
            DoubleColumn.create(
                "score", pts.stream().mapToDouble(PositionalProfile.Point::score).toArray()),
            BooleanColumn.create(
                "masked", pts.stream().map(PositionalProfile.Point::masked).toList()));
    String what =
        pts.isEmpty() || pts.get(0).queryFeature() < 0 ? "decoder bias b_dec" : "feature pairs";
    return new Analysis(
        "QK score by distance Δ (" + what + "; feature -1 = b_dec)",
        t,
        Plots.ropeProfile(pts, window));
  }

  /** Spectra: {@code layer, head, circuit, k, sigma} and the spectrum plot. */
  public static Analysis spectra(List<HeadSvd> svds) {
    Table t =
        Table.create(
            "spectrum",
            IntColumn.create("layer"),
            IntColumn.create("head"),
            StringColumn.create("circuit"),
            IntColumn.create("k"),
            DoubleColumn.create("sigma"));
    for (HeadSvd s : svds) {
      double[] sig = s.sigma();
      for (int k = 0; k < sig.length; k++) {
        t.intColumn("layer").append(s.layer());
        t.intColumn("head").append(s.head());
        t.stringColumn("circuit").append(s.kind().id());
        t.intColumn("k").append(k);
        t.doubleColumn("sigma").append(sig[k]);
      }
    }
    return new Analysis("singular values per head circuit", t, Plots.spectra(svds));
  }

  /**
   * Loadings: for each of the first {@code directions} singular directions of {@code s}, the {@code
   * top} features loading most on {@code side} ({@code layer, head, circuit, k, side, feature,
   * loading, label}).
   */
  public static Analysis loadings(
      HeadSvd s,
      HeadSvd.Side side,
      org.nd4j.linalg.api.ndarray.INDArray rows,
      FeatureLabels labels,
      int directions,
      int top) {
    float[][] l = s.loadings(rows, side, directions);
    Table t =
        Table.create(
            "loadings",
            IntColumn.create("k"),
            DoubleColumn.create("sigma"),
            IntColumn.create("feature"),
            DoubleColumn.create("loading"),
            StringColumn.create("label"));
    double[] sig = s.sigma();
    for (int k = 0; k < l.length; k++) {
      for (int i : HeadSvd.topByAbs(l[k], top)) {
        t.intColumn("k").append(k);
        t.doubleColumn("sigma").append(sig[k]);
        t.intColumn("feature").append(i);
        t.doubleColumn("loading").append(l[k][i]);
        t.stringColumn("label").append(labels == null ? "" : labels.labelOrEmpty(i));
      }
    }
    return new Analysis(
        s.kind()
            + " "
            + s.headName()
            + ": features loading on each singular direction ("
            + side.id()
            + " side)",
        t,
        null);
  }

  /**
   * A summed circuit: rank, features, value, head_spread, weak_in_every_head, head_0.., labels;
   * breakdown plot.
   */
  public static Analysis layerSum(LayerTable lt, FeatureLabels rowLabels, FeatureLabels colLabels) {
    CircuitKind kind = lt.kind();
    Table t =
        Table.create(
            kind.id() + " sum",
            IntColumn.create("rank"),
            IntColumn.create(kind.rowColumn()),
            IntColumn.create(kind.colColumn()),
            DoubleColumn.create("value"),
            IntColumn.create("head_spread"),
            BooleanColumn.create("weak_in_every_head"));
    for (int h = 0; h < lt.nHeads(); h++) {
      t.addColumns(DoubleColumn.create("head_" + h));
    }
    StringColumn rl = StringColumn.create(kind.rowColumn().replace("_feature", "_label"));
    StringColumn cl = StringColumn.create(kind.colColumn().replace("_feature", "_label"));
    int rank = 1;
    for (LayerTable.Edge e : lt.edges()) {
      t.intColumn("rank").append(rank++);
      t.intColumn(kind.rowColumn()).append(e.row());
      t.intColumn(kind.colColumn()).append(e.col());
      t.doubleColumn("value").append(e.value());
      t.intColumn("head_spread").append(e.headSpread(LayerTable.SPREAD_SHARE));
      t.booleanColumn("weak_in_every_head").append(lt.weakInEveryHead(e));
      for (int h = 0; h < lt.nHeads(); h++) {
        t.doubleColumn("head_" + h).append(e.perHead()[h]);
      }
      rl.append(rowLabels == null ? "" : rowLabels.labelOrEmpty(e.row()));
      cl.append(colLabels == null ? "" : colLabels.labelOrEmpty(e.col()));
    }
    if (rowLabels != null) {
      t.addColumns(rl);
    }
    if (colLabels != null) {
      t.addColumns(cl);
    }
    return new Analysis(
        kind
            + " L"
            + lt.layer()
            + " summed over heads: "
            + lt.distributed().size()
            + " of "
            + lt.edges().size()
            + " pairs are in no single head's top "
            + lt.edges().size(),
        t,
        lt.edges().isEmpty() ? null : Plots.layerBreakdown(lt, 20));
  }

  /** Drill-down: a feature's partners per role and head, and its norm heat map. */
  public static Analysis feature(
      FeatureCircuits fc,
      int feature,
      List<FeatureRole> roles,
      int[] heads,
      int top,
      RankBy rankBy,
      boolean cosine,
      FeatureLabels inLabels,
      FeatureLabels keyLabels,
      FeatureLabels outLabels) {
    Table t =
        Table.create(
            "partners",
            StringColumn.create("head"),
            StringColumn.create("role"),
            IntColumn.create("rank"),
            IntColumn.create("partner"),
            DoubleColumn.create("value"),
            StringColumn.create("partner_label"));
    for (FeatureRole role : roles) {
      for (int h : heads) {
        int rank = 1;
        for (FeatureEdge e : fc.partners(feature, role, h, top, rankBy, cosine)) {
          int partner = role.partner(e);
          FeatureLabels pl = partnerLabels(role, inLabels, keyLabels, outLabels);
          t.stringColumn("head").append("L" + fc.layer() + "H" + h);
          t.stringColumn("role").append(role.id());
          t.intColumn("rank").append(rank++);
          t.intColumn("partner").append(partner);
          t.doubleColumn("value").append(e.value());
          t.stringColumn("partner_label").append(pl == null ? "" : pl.labelOrEmpty(partner));
        }
      }
    }
    return new Analysis(
        "feature "
            + feature
            + " in layer "
            + fc.layer()
            + ": top partners per head (as query: keys it attends to; as key: queries attending; as"
            + " value: outputs written; as output: values writing it)",
        t,
        Plots.featureNorms(fc, feature));
  }

  /**
   * The labels of a role's partners: a query's partners are keys, a key's are queries, a value's
   * are outputs and an output's are values.
   */
  public static FeatureLabels partnerLabels(
      FeatureRole role, FeatureLabels inLabels, FeatureLabels keyLabels, FeatureLabels outLabels) {
    return switch (role) {
      case QUERY -> keyLabels;
      case VALUE -> outLabels;
      case KEY, OUTPUT -> inLabels;
    };
  }

  /** The QK–OV scatter of one head: {@code feature, mean_qk, mean_abs_ov} and the scatter plot. */
  public static Analysis scatter(QkOvScatter s) {
    int n = s.meanQk().length;
    Table t =
        Table.create(
            "scatter",
            IntColumn.create("feature", java.util.stream.IntStream.range(0, n).toArray()),
            DoubleColumn.create("mean_qk", s.meanQk()),
            DoubleColumn.create("mean_abs_ov", s.meanAbsOv()));
    return new Analysis(
        String.format(
            java.util.Locale.ROOT, "%s QK-OV correlation: r = %.4f", s.headName(), s.pearson()),
        t,
        Plots.qkOvScatter(s));
  }

  /**
   * Weights vs behaviour ({@link ScoreValidation}): {@code layer, head, band, lo, hi, pairs, rho,
   * rho_rope}, a row {@code band = all} per head then one per distance band; the plot: ρ per head.
   */
  public static Analysis validation(ScoreValidation v, int tokens) {
    Table t =
        Table.create(
            "validation",
            IntColumn.create("layer"),
            IntColumn.create("head"),
            StringColumn.create("band"),
            IntColumn.create("lo"),
            IntColumn.create("hi"),
            IntColumn.create("pairs"),
            DoubleColumn.create("rho"),
            DoubleColumn.create("rho_rope"));
    List<String> heads = new java.util.ArrayList<>();
    double[] rho = new double[v.heads().size()];
    double[] rope = new double[v.heads().size()];
    boolean hasRope = false;
    for (ScoreValidation.Head h : v.heads()) {
      validationRow(t, h.layer(), h.head(), "all", 0, tokens - 1, h.pairs(), h.rho(), h.rhoRope());
      for (ScoreValidation.Band b : v.bands()) {
        if (b.head() == h.head()) {
          validationRow(
              t, b.layer(), b.head(), b.label(), b.lo(), b.hi(), b.pairs(), b.rho(), b.rhoRope());
        }
      }
      rho[heads.size()] = h.rho();
      rope[heads.size()] = h.rhoRope();
      hasRope |= !Double.isNaN(h.rhoRope());
      heads.add(h.name());
    }
    java.util.Map<String, double[]> series = new java.util.LinkedHashMap<>();
    series.put("table", rho);
    if (hasRope) {
      series.put("table with RoPE at the positions", rope);
    }
    String mean =
        String.format(
            java.util.Locale.ROOT,
            "mean ρ %.3f%s",
            v.meanRho(),
            hasRope
                ? String.format(java.util.Locale.ROOT, ", with RoPE %.3f", v.meanRhoRope())
                : "");
    return new Analysis(
        "weights vs behaviour on "
            + tokens
            + " tokens: Spearman ρ of the QK tables' predicted and the real scores ("
            + mean
            + ")",
        t,
        Plots.bars(
            "Spearman ρ, predicted vs real attention scores (" + mean + ")",
            "head",
            "ρ",
            heads,
            series));
  }

  private static void validationRow(
      Table t,
      int layer,
      int head,
      String band,
      int lo,
      int hi,
      int pairs,
      double rho,
      double rope) {
    t.intColumn("layer").append(layer);
    t.intColumn("head").append(head);
    t.stringColumn("band").append(band);
    t.intColumn("lo").append(lo);
    t.intColumn("hi").append(hi);
    t.intColumn("pairs").append(pairs);
    t.doubleColumn("rho").append(rho);
    t.doubleColumn("rho_rope").append(rope);
  }

  /**
   * A head's score on (query, key) split over its singular directions (Franco &amp; Crovella on a
   * prompt, {@link dev.saelab.circuits.PromptSvd}): {@code layer, head, query_pos, key_pos, k,
   * sigma, query_factor, key_factor, term, cumulative_share} by |term|, and a bar plot of the
   * terms.
   */
  public static Analysis directions(dev.saelab.circuits.PromptSvd s) {
    Table t =
        Table.create(
            "directions",
            IntColumn.create("layer"),
            IntColumn.create("head"),
            IntColumn.create("query_pos"),
            IntColumn.create("key_pos"),
            IntColumn.create("k"),
            DoubleColumn.create("sigma"),
            DoubleColumn.create("query_factor"),
            DoubleColumn.create("key_factor"),
            DoubleColumn.create("term"),
            DoubleColumn.create("cumulative_share"));
    double abs = 0;
    for (dev.saelab.circuits.PromptSvd.Term term : s.terms()) {
      abs += Math.abs(term.value());
    }
    double run = 0;
    List<String> ks = new java.util.ArrayList<>();
    double[] values = new double[s.terms().size()];
    for (dev.saelab.circuits.PromptSvd.Term term : s.terms()) {
      run += Math.abs(term.value());
      t.intColumn("layer").append(s.layer());
      t.intColumn("head").append(s.head());
      t.intColumn("query_pos").append(s.queryPos());
      t.intColumn("key_pos").append(s.keyPos());
      t.intColumn("k").append(term.k());
      t.doubleColumn("sigma").append(term.sigma());
      t.doubleColumn("query_factor").append(term.query());
      t.doubleColumn("key_factor").append(term.key());
      t.doubleColumn("term").append(term.value());
      t.doubleColumn("cumulative_share").append(abs == 0 ? 0 : run / abs);
      values[ks.size()] = term.value();
      ks.add(term.k() < 0 ? "bias" : Integer.toString(term.k()));
    }
    String title =
        String.format(
            java.util.Locale.ROOT,
            "%s score of query %d on key %d over its singular directions: %.6g (model %.6g), %d"
                + " of %d directions carry 90%% (%s)",
            s.headName(),
            s.queryPos(),
            s.keyPos(),
            s.total(),
            s.modelScore(),
            s.directionsFor(0.9),
            s.terms().size(),
            s.form().description());
    java.util.Map<String, double[]> series = new java.util.LinkedHashMap<>();
    series.put("term", values);
    return new Analysis(
        title,
        t,
        Plots.bars(
            s.headName() + " score by singular direction (strongest first)",
            "direction k",
            "term",
            ks,
            series));
  }

  /**
   * The upstream writers (embedding, earlier heads, MLPs, biases) feeding a head's strongest
   * directions at the query and key positions ({@link dev.saelab.circuits.HeadPaths}): {@code
   * source, kind, source_layer, source_head, k, side, factor, share, contribution}, strongest
   * first.
   */
  public static Analysis headPaths(dev.saelab.circuits.HeadPaths hp) {
    Table t =
        Table.create(
            "paths",
            StringColumn.create("source"),
            StringColumn.create("kind"),
            IntColumn.create("source_layer"),
            IntColumn.create("source_head"),
            IntColumn.create("k"),
            StringColumn.create("side"),
            DoubleColumn.create("factor"),
            DoubleColumn.create("share"),
            DoubleColumn.create("contribution"));
    for (dev.saelab.circuits.HeadPaths.Path p : hp.paths()) {
      t.stringColumn("source").append(p.source().name());
      t.stringColumn("kind")
          .append(p.source().kind().toString().toLowerCase(java.util.Locale.ROOT));
      t.intColumn("source_layer").append(p.source().layer());
      t.intColumn("source_head").append(p.source().head());
      t.intColumn("k").append(p.k());
      t.stringColumn("side").append(p.side().id());
      t.doubleColumn("factor").append(p.factor());
      t.doubleColumn("share").append(p.share());
      t.doubleColumn("contribution").append(p.contribution());
    }
    dev.saelab.circuits.PromptSvd s = hp.score();
    return new Analysis(
        String.format(
            java.util.Locale.ROOT,
            "what writes %s's %d strongest directions at query %d and key %d (each side's"
                + " contributions add up to the direction's term)",
            s.headName(),
            hp.directions().length,
            s.queryPos(),
            s.keyPos()),
        t,
        null);
  }

  /**
   * The strongest head → head composition paths ({@link dev.saelab.circuits.Composition}, math.md
   * §19): {@code rank, source, target, kind, score, source_layer, source_head, target_layer,
   * target_head}, then, with an SAE on a stream between the two heads, {@code features} (the {@code
   * features} strongest, {@code ;}-separated), {@code feature_strengths}, {@code feature_shares},
   * {@code feature_share} (Σ over every feature) and {@code top_feature_label} (with labels), and
   * the later head's singular directions carrying most of the path: {@code directions} (the {@code
   * directions} largest shares), {@code direction_shares} and {@code directions_90}. The plot: a
   * heat map of the strongest score of any kind, source head × target head.
   *
   * @param c the composition scores
   * @param paths the paths to list (e.g. {@code c.strongest(20)})
   * @param sae an SAE on a residual stream between the heads, or null; paths it does not lie
   *     between get empty feature cells
   * @param labels labels of the SAE's features, or null
   * @param features features listed per path
   * @param directions directions listed per path
   */
  public static Analysis composition(
      dev.saelab.circuits.Composition c,
      List<dev.saelab.circuits.CompositionPath> paths,
      dev.saelab.sae.SaeDictionary sae,
      FeatureLabels labels,
      int features,
      int directions) {
    Table t =
        Table.create(
            "composition",
            IntColumn.create("rank"),
            StringColumn.create("source"),
            StringColumn.create("target"),
            StringColumn.create("kind"),
            DoubleColumn.create("score"),
            IntColumn.create("source_layer"),
            IntColumn.create("source_head"),
            IntColumn.create("target_layer"),
            IntColumn.create("target_head"));
    if (sae != null) {
      t.addColumns(
          StringColumn.create("features"),
          StringColumn.create("feature_strengths"),
          StringColumn.create("feature_shares"),
          DoubleColumn.create("feature_share"));
      if (labels != null) {
        t.addColumns(StringColumn.create("top_feature_label"));
      }
    }
    t.addColumns(
        StringColumn.create("directions"),
        StringColumn.create("direction_shares"),
        IntColumn.create("directions_90"));
    int s = sae == null ? -1 : sae.config().inputOfLayer();
    int rank = 0;
    for (dev.saelab.circuits.CompositionPath p : paths) {
      t.intColumn("rank").append(++rank);
      t.stringColumn("source").append(p.source());
      t.stringColumn("target").append(p.target());
      t.stringColumn("kind").append(p.kind().toString());
      t.doubleColumn("score").append(p.score());
      t.intColumn("source_layer").append(p.sourceLayer());
      t.intColumn("source_head").append(p.sourceHead());
      t.intColumn("target_layer").append(p.targetLayer());
      t.intColumn("target_head").append(p.targetHead());
      if (sae != null) {
        boolean between = s < 0 || (p.sourceLayer() < s && s <= p.targetLayer());
        if (between) {
          dev.saelab.circuits.Composition.Features f = c.features(p, sae, features);
          StringBuilder idx = new StringBuilder();
          StringBuilder str = new StringBuilder();
          StringBuilder sh = new StringBuilder();
          for (dev.saelab.circuits.Composition.Feature x : f.top()) {
            String sep = idx.length() == 0 ? "" : ";";
            idx.append(sep).append(x.feature());
            str.append(sep).append(fmt(x.strength()));
            sh.append(sep).append(fmt(x.share()));
          }
          t.stringColumn("features").append(idx.toString());
          t.stringColumn("feature_strengths").append(str.toString());
          t.stringColumn("feature_shares").append(sh.toString());
          t.doubleColumn("feature_share").append(f.featureShare());
          if (labels != null) {
            t.stringColumn("top_feature_label")
                .append(f.top().isEmpty() ? "" : labels.labelOrEmpty(f.top().get(0).feature()));
          }
        } else {
          t.stringColumn("features").append("");
          t.stringColumn("feature_strengths").append("");
          t.stringColumn("feature_shares").append("");
          t.doubleColumn("feature_share").appendMissing();
          if (labels != null) {
            t.stringColumn("top_feature_label").append("");
          }
        }
      }
      dev.saelab.circuits.Composition.Directions d = c.directions(p);
      int[] order = d.order();
      StringBuilder ks = new StringBuilder();
      StringBuilder sh = new StringBuilder();
      for (int i = 0; i < Math.min(directions, order.length); i++) {
        String sep = i == 0 ? "" : ";";
        ks.append(sep).append(order[i]);
        sh.append(sep).append(fmt(d.shares()[order[i]]));
      }
      t.stringColumn("directions").append(ks.toString());
      t.stringColumn("direction_shares").append(sh.toString());
      t.intColumn("directions_90").append(d.directionsFor(0.9));
    }
    // sources: every layer but the last; targets: every layer but the first
    List<String> names = c.headNames();
    int nh = c.config().nHeads();
    int n = names.size() - nh;
    double[][] all = c.strongestScores();
    double[][] z = new double[n][n];
    for (int i = 0; i < n; i++) {
      System.arraycopy(all[nh + i], 0, z[i], 0, n);
    }
    Plot plot =
        Plots.heatmap(
            "composition between heads (strongest of Q, K, V)",
            "source head (writes)",
            "target head (reads)",
            z,
            names.subList(0, n),
            names.subList(nh, nh + n));
    return new Analysis(
        "the "
            + paths.size()
            + " strongest head → head composition paths (Q, K, V: the later head's query, key or"
            + " value side reads the earlier head's write; norms folded, per-token scales left"
            + " out)",
        t,
        plot);
  }

  private static String fmt(double v) {
    return String.format(java.util.Locale.ROOT, "%.4g", v);
  }
}
