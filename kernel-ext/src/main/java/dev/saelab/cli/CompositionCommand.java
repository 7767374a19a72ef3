package dev.saelab.cli;

import dev.saelab.api.Analyses;
import dev.saelab.api.Analysis;
import dev.saelab.api.Plots;
import dev.saelab.circuits.Composition;
import dev.saelab.circuits.CompositionPath;
import dev.saelab.circuits.TableWriter;
import dev.saelab.hub.Sources;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.LabelMatch;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;
import tech.tablesaw.api.Table;
import tech.tablesaw.columns.Column;

/** {@code saelab composition} / {@code %composition}: Q-, K-, V-composition between heads. */
@Command(
    name = "composition",
    description =
        "Composition between heads, from the weights (Elhage et al.): for every head A of a layer"
            + " and head B of a later layer, how much of A's OV write B's query (Q), key (K) or"
            + " value (V) side reads, ‖W_OV^A·W_B‖ / (‖W_OV^A‖·‖W_B‖), with the norms between them"
            + " folded as the tables fold them (per-token norm scales left out). Each path is split"
            + " over B's singular directions and, with --sae (an SAE on a residual stream between"
            + " the two heads), over the SAE's features: A writes feature f's encoder direction, B"
            + " reads its decoder direction. --out FILE.csv: the --top strongest paths (rank,"
            + " source, target, kind, score, ..., features, feature_strengths, feature_shares,"
            + " feature_share, directions, direction_shares, directions_90). In a notebook: the"
            + " table and a heat map of the strongest score, source head × target head.",
    footer = {
      "",
      "Examples:",
      "  saelab composition --model datasets/tiny-composition/model --sae"
          + " datasets/tiny-composition/blocks.1.hook_resid_pre --top 10 --out"
          + " target/composition.csv --plot target/composition.png",
      "  saelab composition --model datasets/tiny-gpt2 --sae"
          + " datasets/tiny-saelens/blocks.1.hook_resid_pre --labels"
          + " datasets/tiny-neuronpedia/tiny-gpt2_1-res-tiny.json --kinds q,k --top 5 --out"
          + " target/composition-gpt2.csv"
    })
public final class CompositionCommand extends CliCommand implements ModelShared {
  @Option(
      names = "--model",
      paramLabel = "MODEL",
      description = "model folder (config.json + safetensors); in a notebook: the session's model")
  String model;

  @Option(
      names = "--layers",
      paramLabel = "all|0,3,7-12",
      defaultValue = "all",
      converter = LayersConverter.class,
      description = "the layers whose heads are paired (default all; at least two)")
  Converters.Ints layers;

  @Option(
      names = "--sae",
      paramLabel = "SAE",
      description =
          "an SAE on a residual stream between the heads (its features split the paths it lies"
              + " between); in a notebook: the session's input SAE by default")
  String sae;

  @Option(names = "--labels", paramLabel = "LABELS", description = "labels of the SAE's features")
  String labels;

  @Option(
      names = "--kinds",
      paramLabel = "q,k,v",
      defaultValue = "q,k,v",
      converter = KindsConverter.class,
      description = "which compositions are listed (default q,k,v)")
  Set<CompositionPath.Kind> kinds;

  @Option(
      names = "--top",
      paramLabel = "K",
      defaultValue = "20",
      converter = Converters.PositiveConverter.class,
      description = "paths listed, strongest first (default ${DEFAULT-VALUE})")
  int top;

  @Option(
      names = "--features",
      paramLabel = "N",
      defaultValue = "5",
      converter = Converters.PositiveConverter.class,
      description = "features listed per path (default ${DEFAULT-VALUE})")
  int features;

  @Option(
      names = "--directions",
      paramLabel = "N",
      defaultValue = "3",
      converter = Converters.PositiveConverter.class,
      description = "singular directions listed per path (default ${DEFAULT-VALUE})")
  int directions;

  @Option(
      names = "--out",
      paramLabel = "FILE.csv",
      description = "where to write (required on the command line)")
  Path outPath;

  @Option(
      names = "--plot",
      paramLabel = "FILE.png|FILE.svg",
      description = "also draw the heat map")
  Path plot;

  /** {@code all}, or layers and ranges: {@code 0,3,7-12}. */
  public static final class LayersConverter implements ITypeConverter<Converters.Ints> {
    @Override
    public Converters.Ints convert(String s) {
      if (s.strip().equals("all")) {
        return new Converters.Ints(null);
      }
      try {
        return new Converters.Ints(
            Arrays.stream(s.split(","))
                .map(String::strip)
                .flatMapToInt(
                    p -> {
                      int dash = p.indexOf('-', 1);
                      if (dash < 0) {
                        return java.util.stream.IntStream.of(Integer.parseInt(p));
                      }
                      int a = Integer.parseInt(p.substring(0, dash).strip());
                      int b = Integer.parseInt(p.substring(dash + 1).strip());
                      if (b < a) {
                        throw new NumberFormatException();
                      }
                      return java.util.stream.IntStream.rangeClosed(a, b);
                    })
                .toArray());
      } catch (NumberFormatException e) {
        throw new TypeConversionException("expected all or layers like 0,3,7-12");
      }
    }
  }

  /** {@code q,k,v} or any of them. */
  public static final class KindsConverter implements ITypeConverter<Set<CompositionPath.Kind>> {
    @Override
    public Set<CompositionPath.Kind> convert(String s) {
      Set<CompositionPath.Kind> k = EnumSet.noneOf(CompositionPath.Kind.class);
      for (String p : s.split(",")) {
        try {
          k.add(CompositionPath.Kind.parse(p));
        } catch (IllegalArgumentException e) {
          throw new TypeConversionException("expected q, k, v or a list like q,k");
        }
      }
      return k;
    }
  }

  @Override
  public String model() {
    return model;
  }

  @Override
  public ModelWeights openModel() {
    if (model == null) {
      throw new IllegalArgumentException("needs --model MODEL");
    }
    return ModelWeights.open(Sources.fromEnvironment().model(model, null));
  }

  @Override
  public Object result(ModelWeights m, ForwardShared.Session session) throws Exception {
    SaeDictionary own = sae == null ? null : openSae();
    try {
      SaeDictionary s = own != null ? own : session.saeIn();
      FeatureLabels l =
          labels != null ? readLabels(s) : own == null && s != null ? session.labelsIn() : null;
      return run(m, s, l);
    } finally {
      if (own != null) {
        own.close();
      }
    }
  }

  @Override
  public Integer call() throws Exception {
    requireOut(outPath, "FILE.csv");
    try (ModelWeights m = openModel();
        SaeDictionary s = sae == null ? null : openSae()) {
      run(m, s, labels == null ? null : readLabels(s));
    }
    return 0;
  }

  private SaeDictionary openSae() {
    return SaeDictionary.open(Sources.fromEnvironment().sae(sae, Sources.matricesFor("in")));
  }

  private FeatureLabels readLabels(SaeDictionary s) {
    if (s == null) {
      throw new IllegalArgumentException("--labels needs --sae (the labels are the SAE's)");
    }
    FeatureLabels l = NeuronpediaLabels.read(Sources.fromEnvironment().labels(labels));
    LabelMatch.require(l, s, err::println);
    return l;
  }

  private Analysis run(ModelWeights m, SaeDictionary s, FeatureLabels l) throws Exception {
    int[] ls = layers.values();
    try (Composition c = ls == null ? Composition.of(m) : Composition.of(m, ls)) {
      List<CompositionPath> paths = c.strongest(top, kinds);
      Analysis a = Analyses.composition(c, paths, s, l, features, directions);
      if (outPath != null) {
        TableWriter.write(outPath, csv(a.table()));
        out.println(
            "wrote "
                + outPath
                + " ("
                + paths.size()
                + " of "
                + c.paths().size()
                + " paths; strongest "
                + (paths.isEmpty() ? "-" : paths.get(0))
                + ")");
      }
      if (plot != null) {
        Plots.save(a.plot(), plot);
        out.println("wrote " + plot);
      }
      return a;
    }
  }

  /** The table as CSV: a header row, numbers as Java prints them, missing numbers empty. */
  static String csv(Table t) {
    StringBuilder sb = new StringBuilder();
    List<Column<?>> cols = t.columns();
    for (int j = 0; j < cols.size(); j++) {
      sb.append(j == 0 ? "" : ",").append(cols.get(j).name());
    }
    sb.append('\n');
    for (int i = 0; i < t.rowCount(); i++) {
      for (int j = 0; j < cols.size(); j++) {
        Column<?> col = cols.get(j);
        sb.append(j == 0 ? "" : ",");
        if (!col.isMissing(i)) {
          Object v = col.get(i);
          sb.append(v instanceof String str ? TableWriter.quote(str) : String.valueOf(v));
        }
      }
      sb.append('\n');
    }
    return sb.toString();
  }
}
