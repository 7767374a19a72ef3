package dev.saelab.magic;

import dev.saelab.io.SaeLabException;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.HeadSvd;
import dev.saelab.circuits.Rope;
import dev.saelab.linalg.RankBy;
import dev.saelab.linalg.Screen;
import dev.saelab.cli.Args;
import dev.saelab.cli.TablesCommand;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.model.ModelWeights;
import dev.saelab.api.CircuitQuery;
import dev.saelab.api.FeaturePair;
import dev.saelab.api.FeatureTable;
import dev.saelab.api.Plots;
import dev.saelab.sae.SaeDictionary;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * The line magics, kernel-neutral: each takes the words after {@code %name} and returns the same object the Java API
 * returns ({@link ModelWeights}, {@link SaeDictionary}, {@link FeatureLabels}, {@link FeatureTable},
 * {@link dev.saelab.api.Plot}), so {@code FeatureTable t = %qk --heads 1} works. Every magic answers
 * {@code --help}; a wrong argument throws {@link MagicUsageException} with one line and the valid choices.
 */
public final class SaeLabMagics {
  /** The magic names each kernel adapter registers. */
  public static final List<String> NAMES = dev.saelab.cli.MagicRewriter.NAMES;

  private static final List<String> TABLE_VALUES = List.of("--model", "--layer", "--sae-in", "--sae-key",
      "--sae-out", "--labels-in", "--labels-key", "--labels-out", "--heads", "--top", "--rank-by", "--scale",
      "--position", "--pairing", "--screen");
  private static final List<String> TABLE_FLAGS = List.of("--exclude-self", "--no-prune", "--distinct",
      "--distinct-positive", "--cosine", "--breakdown", "--help");
  private static final List<String> ANALYSIS_VALUES = List.of("--model", "--layer", "--sae-in", "--sae-key",
      "--sae-out", "--labels-in", "--labels-key", "--labels-out", "--heads", "--top", "--pairing", "--pairs",
      "--scale", "--circuit", "--head", "--side", "--directions", "--feature");
  private static final List<String> ANALYSIS_FLAGS = List.of("--cosine", "--help");

  private static final Map<String, String> HELP = new LinkedHashMap<>();

  static {
    HELP.put("model", "%model PATH [--layer L]\n  load a model folder (config.json + safetensors); returns ModelWeights"
        + "\n  e.g. ModelWeights m = %model datasets/tiny-gemma2 --layer 1");
    HELP.put("sae", "%sae [--in] PATH | --key PATH | --out PATH\n  load an SAE (Gemma Scope folder or params.npz,"
        + " SAELens folder) for the layer's input (query/value; default), key side, or output stream; returns"
        + " SaeDictionary\n  e.g. %sae datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12");
    HELP.put("labels", "%labels [--in] PATH | --key PATH | --out PATH\n  load Neuronpedia labels (old JSON export or"
        + " bulk batch-N.jsonl.gz folder) for the input, key or output SAE; returns FeatureLabels");
    HELP.put("qk", "%qk [--layer L] [--heads all|0,3] [--top K] [--rank-by abs|value|-value] [--exclude-self]\n"
        + "    [--scale raw|query] [--distinct | --distinct-positive] [--no-prune] [--cosine]\n"
        + "    [--screen auto|int8|fp32]  (how tiles are screened before exact rescoring; same tables)\n"
        + "    [--position DELTA [--pairing rotate-half|interleaved]]\n"
        + "    [--heads sum]  (summed over heads with per-head parts; returns Analysis)\n"
        + "    [--model P --sae-in P --sae-key P --labels-in P --labels-key P]  (load and remember)\n"
        + "  QK feature-to-feature table per head (query feature attends to key feature); returns FeatureTable\n"
        + "  e.g. FeatureTable qk = %qk --heads 1 --top 20");
    HELP.put("ov", "%ov [same options as %qk, plus --sae-out P --labels-out P]\n"
        + "  OV table per head (value feature writes output feature); returns FeatureTable\n"
        + "  e.g. FeatureTable ov = %ov --heads 2 --top 20");
    HELP.put("rope", "%rope [--pairs 17:42,5:5] [--heads all|0,3] [--pairing rotate-half|interleaved] [--scale raw|query]\n"
        + "  QK score by query-key distance Δ (log-spaced to the context length), per head: of the input SAE's\n"
        + "  decoder bias with itself (the post's plot), or of query:key feature pairs; returns Analysis (plot +"
        + " table)");
    HELP.put("svd", "%svd [--heads all|0,3]                          singular values of each head's QK and OV\n"
        + "%svd --circuit qk|ov --head H --side query|key|value|output [--directions N] [--top K]\n"
        + "  features loading most on each singular direction (Franco & Crovella); returns Analysis");
    HELP.put("feature", "%feature N [--heads all|0,3] [--top K] [--cosine]\n"
        + "  drill-down: feature N's top partners in each head as query, key, value (and output with an output"
        + " SAE),\n  and its q/k/v/p norms per head as a heat map; returns Analysis");
    HELP.put("scatter", "%scatter --head H\n  the post's QK-OV scatter: per feature, mean QK as key vs mean |OV| as"
        + " value, with Pearson r; returns Analysis");
    HELP.put("plot", "%plot top [--table last]            |value| by rank per head of the last table\n"
        + "%plot block qk|ov --head H [--rows 0:16] [--cols 0:16]   heat map of a block of a head's circuit\n"
        + "%plot norms --head H                 per feature |query| vs |key| (scatter)\n  returns Plot");
    HELP.put("saelab", "%saelab help | status | reset\n  help: this list; status: what is loaded; reset: forget it");
  }

  private static final SaeLabMagics SHARED = new SaeLabMagics();
  private final Session session = new Session();
  private final java.util.function.Consumer<String> warnings;

  /** Magics whose warnings (labels that cannot be confirmed to fit their SAE) go to stderr, one line each. */
  public SaeLabMagics() {
    this(w -> System.err.println(w)); // System.err read per warning: kernels redirect it
  }

  /** Magics whose one-line warnings go to {@code warnings}. */
  public SaeLabMagics(java.util.function.Consumer<String> warnings) {
    this.warnings = warnings;
  }

  /** The magic engine shared by every kernel adapter and {@code SaeLab.magic}. */
  public static SaeLabMagics shared() {
    return SHARED;
  }

  /**
   * Runs one magic line, {@code "qk --heads 1"} (a leading {@code %} is optional); returns what the magic returns.
   */
  public Object line(String line) {
    String s = line.strip();
    if (s.startsWith("%")) {
      s = s.substring(1);
    }
    List<String> words = split(s);
    if (words.isEmpty()) {
      throw new IllegalArgumentException("empty magic line; try SaeLab.magic(\"saelab help\")");
    }
    return eval(words.get(0), words.subList(1, words.size()));
  }

  /** The session state (what the magics have loaded). */
  public Session session() {
    return session;
  }

  /** Runs a line magic by name. */
  public Object eval(String name, List<String> args) {
    String[] a = args.toArray(new String[0]);
    if (args.contains("--help") || args.contains("-h")) {
      return text(help(name));
    }
    try {
      return switch (name) {
        case "saelab" -> saelab(a);
        case "model" -> model(a);
        case "sae" -> sae(a);
        case "labels" -> labels(a);
        case "qk" -> table(CircuitKind.QK, a);
        case "ov" -> table(CircuitKind.OV, a);
        case "plot" -> plot(a);
        case "rope" -> rope(a);
        case "svd" -> svd(a);
        case "feature" -> feature(a);
        case "scatter" -> scatter(a);
        default -> throw new MagicUsageException("unknown SAE Lab magic %" + name + " (valid: %" + String.join(", %",
            NAMES) + ")");
      };
    } catch (MagicUsageException | SaeLabException e) {
      throw e;
    } catch (IllegalArgumentException e) {
      throw new MagicUsageException("%" + name + ": " + e.getMessage());
    }
  }

  /** Help for one magic, or the list of all with examples for "saelab"/"help". */
  public static String help(String name) {
    if (name.equals("saelab") || name.equals("help")) {
      StringBuilder sb = new StringBuilder("SAE Lab magics (each also has a Java call: see SaeLab):\n\n");
      for (String h : HELP.values()) {
        sb.append(h).append("\n\n");
      }
      return sb.toString();
    }
    String h = HELP.get(name);
    if (h == null) {
      throw new MagicUsageException("unknown SAE Lab magic %" + name + " (valid: %" + String.join(", %", NAMES) + ")");
    }
    return h;
  }

  private Object saelab(String[] a) {
    String sub = a.length == 0 ? "help" : a[0];
    return switch (sub) {
      case "help" -> text(help("saelab"));
      case "status" -> text(session.describe());
      case "reset" -> {
        session.model = null;
        session.layer = null;
        session.saeIn = session.saeKey = session.saeOut = null;
        session.labelsIn = session.labelsKey = session.labelsOut = null;
        session.lastTable = null;
        yield text("SAE Lab session reset");
      }
      default -> {
        if (NAMES.contains(sub)) {
          yield eval(sub, List.of(a).subList(1, a.length));
        }
        throw new MagicUsageException("%saelab " + sub + ": expected help, status, reset or one of "
            + String.join(", ", NAMES.subList(1, NAMES.size())));
      }
    };
  }

  private ModelWeights model(String[] a) {
    List<String> pos = new ArrayList<>();
    Integer layer = null;
    for (int i = 0; i < a.length; i++) {
      if (a[i].equals("--layer")) {
        if (i + 1 >= a.length) {
          throw new MagicUsageException("%model: --layer needs a value");
        }
        layer = parseInt("--layer", a[++i]);
      } else if (a[i].startsWith("--")) {
        throw new MagicUsageException("%model: unknown option '" + a[i] + "' (valid: PATH --layer L --help)");
      } else {
        pos.add(a[i]);
      }
    }
    if (pos.size() != 1) {
      throw new MagicUsageException("%model: expected one PATH (a model folder), got " + pos.size());
    }
    ModelWeights m = ModelWeights.open(dev.saelab.hub.Sources.fromEnvironment().model(pos.get(0), layer));
    session.model = m;
    if (layer != null) {
      checkLayer(m, layer);
      session.layer = layer;
    }
    return m;
  }

  private SaeDictionary sae(String[] a) {
    return load(roles("sae", a), s -> SaeDictionary.open(dev.saelab.hub.Sources.fromEnvironment().sae(s)),
        this::setSae);
  }

  private FeatureLabels labels(String[] a) {
    return load(roles("labels", a), s -> NeuronpediaLabels.read(dev.saelab.hub.Sources.fromEnvironment().labels(s)),
        this::setLabels);
  }

  /** Opens each (role → path) and remembers it under its role; returns the last one opened. */
  private static <T> T load(Map<String, String> paths, Function<String, T> open, BiConsumer<String, T> remember) {
    T last = null;
    for (Map.Entry<String, String> e : paths.entrySet()) {
      last = open.apply(e.getValue());
      remember.accept(e.getKey(), last);
    }
    return last;
  }

  private void setSae(String role, SaeDictionary s) {
    switch (role) {
      case "in" -> session.saeIn = s;
      case "key" -> session.saeKey = s;
      default -> session.saeOut = s;
    }
  }

  private void setLabels(String role, FeatureLabels l) {
    switch (role) {
      case "in" -> session.labelsIn = l;
      case "key" -> session.labelsKey = l;
      default -> session.labelsOut = l;
    }
  }

  /** {@code [--in] PATH}, {@code --key PATH}, {@code --out PATH}, in any combination. */
  private static Map<String, String> roles(String magic, String[] a) {
    Map<String, String> roles = new LinkedHashMap<>();
    for (int i = 0; i < a.length; i++) {
      String role = switch (a[i]) {
        case "--in" -> "in";
        case "--key" -> "key";
        case "--out" -> "out";
        default -> null;
      };
      if (role == null && a[i].startsWith("--")) {
        throw new MagicUsageException("%" + magic + ": unknown option '" + a[i] + "' (valid: [--in] PATH, --key PATH,"
            + " --out PATH, --help)");
      }
      if (role != null && i + 1 >= a.length) {
        throw new MagicUsageException("%" + magic + ": " + a[i] + " needs a PATH");
      }
      String path = role == null ? a[i] : a[++i];
      role = role == null ? "in" : role;
      if (roles.containsKey(role)) {
        throw new MagicUsageException("%" + magic + ": two paths for --" + role);
      }
      roles.put(role, path);
    }
    if (roles.isEmpty()) {
      throw new MagicUsageException("%" + magic + ": expected a PATH (see %" + magic + " --help)");
    }
    return roles;
  }

  private Object table(CircuitKind kind, String[] argv) {
    Args a = new Args("%" + kind.id(), argv, TABLE_VALUES, TABLE_FLAGS);
    if (a.has("--distinct") && a.has("--distinct-positive")) {
      throw new MagicUsageException("%" + kind.id() + ": --distinct and --distinct-positive exclude each other");
    }
    boolean sum = a.get("--heads", "all").equals("sum");
    CircuitQuery q = analysisQuery(kind.id(), a, sum);
    if (a.has("--position")) {
      q.position(a.intValue("--position", 0));
    }
    q.top(a.intValue("--top", 1000)).rankBy(RankBy.parse(a.get("--rank-by", "abs")));
    if (a.has("--exclude-self")) {
      q.excludeSelf();
    }
    if (a.has("--no-prune")) {
      q.noPrune();
    }
    if (a.has("--screen")) {
      q.screen(Screen.parse(a.get("--screen", "auto")));
    }
    if (sum) {
      return kind == CircuitKind.QK ? q.qkSum() : q.ovSum();
    }
    FeatureTable t = kind == CircuitKind.QK ? q.qk() : q.ov();
    if (a.has("--distinct")) {
      t = t.distinct();
    } else if (a.has("--distinct-positive")) {
      t = t.distinctPositive();
    }
    session.lastTable = t;
    return t;
  }

  /** Loads what the flags name, then answers the layer: {@code --layer}, else the session's. */
  private int loadAndLayer(String magic, Args a) {
    if (a.has("--model")) {
      session.model = ModelWeights.open(dev.saelab.hub.Sources.fromEnvironment().model(a.get("--model", ""),
          a.has("--layer") ? a.intValue("--layer", 0) : session.layer));
    }
    loadOptional(a);
    if (session.model == null) {
      throw new MagicUsageException("%" + magic + ": no model loaded (use %model PATH or --model PATH)");
    }
    if (a.has("--layer")) {
      int layer = a.intValue("--layer", 0);
      checkLayer(session.model, layer);
      session.layer = layer;
      return layer;
    }
    if (session.layer != null) {
      return session.layer;
    }
    throw new MagicUsageException("%" + magic + ": which layer? (--layer L, or %model PATH --layer L)");
  }

  /** The query the flags shared by the table and analysis magics describe; {@code sum}: "--heads sum" (all). */
  private CircuitQuery analysisQuery(String magic, Args a, boolean sum) {
    CircuitQuery q = query(loadAndLayer(magic, a));
    if (!sum) {
      q.heads(TablesCommand.parseHeads(a.get("--heads", "all"), session.model.config().nHeads()));
    }
    q.pairing(Rope.Pairing.parse(a.get("--pairing", "rotate-half")));
    if (a.has("--cosine")) {
      q.cosine();
    }
    String scale = a.get("--scale", "raw");
    if (!scale.equals("raw") && !scale.equals("query")) {
      throw new MagicUsageException("%" + magic + ": --scale " + scale + ": expected raw or query");
    }
    if (scale.equals("query")) {
      q.queryScale();
    }
    return q;
  }

  private Object rope(String[] argv) {
    Args a = new Args("%rope", argv, ANALYSIS_VALUES, ANALYSIS_FLAGS);
    CircuitQuery q = analysisQuery("rope", a, false);
    if (!a.has("--pairs")) {
      return q.ropeProfile();
    }
    List<FeaturePair> pairs = new ArrayList<>();
    for (String p : a.get("--pairs", "").split(",")) {
      String[] qk = p.strip().split(":");
      if (qk.length != 2) {
        throw new MagicUsageException("%rope: --pairs " + a.get("--pairs", "") + ": expected pairs like 17:42,5:5");
      }
      pairs.add(new FeaturePair(parseInt("--pairs", qk[0]), parseInt("--pairs", qk[1])));
    }
    return q.ropeProfile(pairs);
  }

  private Object svd(String[] argv) {
    Args a = new Args("%svd", argv, ANALYSIS_VALUES, ANALYSIS_FLAGS);
    CircuitQuery q = analysisQuery("svd", a, false);
    if (!a.has("--side")) {
      return q.spectra();
    }
    String circuit = a.get("--circuit", null);
    if (circuit == null || !a.has("--head")) {
      throw new MagicUsageException("%svd: loadings need --circuit qk|ov, --head H and --side");
    }
    return q.loadings(CircuitKind.parse(circuit), a.intValue("--head", 0), HeadSvd.Side.parse(a.get("--side", "")),
        a.intValue("--directions", 4), a.intValue("--top", 10));
  }

  private Object feature(String[] argv) {
    if (argv.length == 0 || argv[0].startsWith("--")) {
      throw new MagicUsageException("%feature: expected a feature index first, e.g. %feature 17 --heads 1");
    }
    int f = parseInt("feature", argv[0]);
    Args a = new Args("%feature", java.util.Arrays.copyOfRange(argv, 1, argv.length), ANALYSIS_VALUES,
        ANALYSIS_FLAGS);
    return analysisQuery("feature", a, false).feature(f, a.intValue("--top", 10));
  }

  private Object scatter(String[] argv) {
    Args a = new Args("%scatter", argv, ANALYSIS_VALUES, ANALYSIS_FLAGS);
    if (!a.has("--head")) {
      throw new MagicUsageException("%scatter: which head? (--head H)");
    }
    return analysisQuery("scatter", a, false).scatter(a.intValue("--head", 0));
  }

  /** The command line's loading flags: {@code --sae-in/--sae-key/--sae-out}, {@code --labels-in/-key/-out}. */
  private void loadOptional(Args a) {
    var src = dev.saelab.hub.Sources.fromEnvironment();
    load(flagRoles(a, "--sae-"), s -> SaeDictionary.open(src.sae(s)), this::setSae);
    load(flagRoles(a, "--labels-"), s -> NeuronpediaLabels.read(src.labels(s)), this::setLabels);
  }

  private static Map<String, String> flagRoles(Args a, String prefix) {
    Map<String, String> roles = new LinkedHashMap<>();
    for (String role : List.of("in", "key", "out")) {
      if (a.has(prefix + role)) {
        roles.put(role, a.get(prefix + role, ""));
      }
    }
    return roles;
  }

  private CircuitQuery query(int layer) {
    return new CircuitQuery(session.model, layer).saeIn(session.saeIn).saeKey(session.saeKey)
        .saeOut(session.saeOut).labelsIn(session.labelsIn).labelsKey(session.labelsKey)
        .labelsOut(session.labelsOut).warnings(warnings);
  }

  private Object plot(String[] argv) {
    if (argv.length == 0) {
      throw new MagicUsageException("%plot: expected top, block or norms (see %plot --help)");
    }
    String what = argv[0];
    String[] rest = java.util.Arrays.copyOfRange(argv, 1, argv.length);
    switch (what) {
      case "top": {
        new Args("%plot top", rest, List.of(), List.of());
        if (session.lastTable == null) {
          throw new MagicUsageException("%plot top: no table yet (run %qk or %ov first)");
        }
        return Plots.topValues(session.lastTable);
      }
      case "block": {
        if (rest.length == 0 || !(rest[0].equals("qk") || rest[0].equals("ov"))) {
          throw new MagicUsageException("%plot block: expected qk or ov, then --head H [--rows a:b] [--cols a:b]");
        }
        CircuitKind kind = rest[0].equals("qk") ? CircuitKind.QK : CircuitKind.OV;
        Args a = new Args("%plot block", java.util.Arrays.copyOfRange(rest, 1, rest.length),
            List.of("--head", "--rows", "--cols"), List.of());
        try (FeatureCircuits fc = circuits()) {
          int head = a.intValue("--head", 0);
          return Plots.circuitBlock(fc, kind, head, range("--rows", a.get("--rows", "0:16")),
              range("--cols", a.get("--cols", "0:16")));
        }
      }
      case "norms": {
        Args a = new Args("%plot norms", rest, List.of("--head"), List.of());
        try (FeatureCircuits fc = circuits()) {
          return Plots.queryKeyNorms(fc, a.intValue("--head", 0));
        }
      }
      default:
        throw new MagicUsageException("%plot " + what + ": expected top, block or norms");
    }
  }

  private FeatureCircuits circuits() {
    if (session.model == null || session.layer == null) {
      throw new MagicUsageException("%plot: load a model and choose a layer first (%model PATH --layer L)");
    }
    return query(session.layer).open();
  }

  /** {@code a:b} (half-open) or {@code i,j,k}. */
  static int[] range(String option, String s) {
    try {
      if (s.contains(":")) {
        String[] p = s.split(":", -1);
        int a = Integer.parseInt(p[0].strip());
        int b = Integer.parseInt(p[1].strip());
        if (b <= a || b - a > 256) {
          throw new MagicUsageException(option + " " + s + ": expected a:b with a < b and at most 256 features");
        }
        return java.util.stream.IntStream.range(a, b).toArray();
      }
      return java.util.Arrays.stream(s.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
    } catch (NumberFormatException e) {
      throw new MagicUsageException(option + " " + s + ": expected a:b or a list like 1,5,9");
    }
  }

  private static void checkLayer(ModelWeights m, int layer) {
    int n = m.config().nLayers();
    if (layer < 0 || layer >= n) {
      throw new MagicUsageException("--layer " + layer + ": the model has layers 0.." + (n - 1));
    }
  }

  private static int parseInt(String option, String v) {
    try {
      return Integer.parseInt(v.strip());
    } catch (NumberFormatException e) {
      throw new MagicUsageException(option + " " + v + ": expected an integer");
    }
  }

  /** Help and status text: renders as preformatted text in every kernel. */
  public record Text(String text) implements dev.saelab.render.MimeBundle {
    @Override
    public Map<String, Object> mimeBundle() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("text/html", "<pre>" + dev.saelab.render.HtmlTables.escape(text) + "</pre>");
      m.put("text/plain", text);
      return m;
    }

    @Override
    public String toString() {
      return text;
    }
  }

  private static Text text(String s) {
    return new Text(s);
  }

  /** Splits a magic line into words like a shell: whitespace-separated, "double" or 'single' quotes group. */
  public static List<String> split(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    char quote = 0;
    boolean inWord = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
        } else {
          cur.append(c);
        }
      } else if (c == '"' || c == '\'') {
        quote = c;
        inWord = true;
      } else if (Character.isWhitespace(c)) {
        if (inWord) {
          out.add(cur.toString());
          cur.setLength(0);
          inWord = false;
        }
      } else {
        cur.append(c);
        inWord = true;
      }
    }
    if (quote != 0) {
      throw new MagicUsageException("unterminated " + quote + " quote in: " + line);
    }
    if (inWord) {
      out.add(cur.toString());
    }
    return out;
  }
}
