package dev.saelab.api;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitSpec;
import dev.saelab.circuits.CircuitTable;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.FeatureRole;
import dev.saelab.circuits.HeadSet;
import dev.saelab.circuits.HeadSvd;
import dev.saelab.circuits.LayerTable;
import dev.saelab.circuits.PositionalProfile;
import dev.saelab.circuits.QkNorm;
import dev.saelab.circuits.Rope;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.LabelMatch;
import dev.saelab.linalg.Progress;
import dev.saelab.linalg.RankBy;
import dev.saelab.linalg.Screen;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import java.util.EnumSet;
import java.util.List;

/**
 * Everything {@code saelab tables} can do, as a fluent call: choose the layer's SAEs, labels and
 * options, then ask for {@link #qk()}, {@link #ov()} or {@link #both()}.
 *
 * <pre>
 * FeatureTable ov = SaeLab.circuits(model, 13).saeIn(sae12).saeOut(sae13)
 *     .labelsIn(labels12).labelsOut(labels13).heads(0, 7).top(1000).ov();
 * </pre>
 */
public final class CircuitQuery {
  private final ModelWeights model;
  private final int layer;
  private SaeDictionary saeIn;
  private SaeDictionary saeKey;
  private SaeDictionary saeOut;
  private FeatureLabels labelsIn;
  private FeatureLabels labelsKey;
  private FeatureLabels labelsOut;
  private CircuitSpec spec = CircuitSpec.defaults();
  private Screen screen;
  private Progress progress;
  private boolean biasAugmented;
  private QkNorm qkNorm = QkNorm.EXACT;
  private java.util.function.Consumer<String> warnings = w -> System.err.println(w);

  /** A query on one layer of a model. */
  public CircuitQuery(ModelWeights model, int layer) {
    if (model == null) {
      throw new IllegalArgumentException("no model (SaeLab.model(path))");
    }
    int n = model.config().nLayers();
    if (layer < 0 || layer >= n) {
      throw new IllegalArgumentException("layer " + layer + ": the model has layers 0.." + (n - 1));
    }
    this.model = model;
    this.layer = layer;
  }

  /**
   * The SAE on the layer's input stream: query and value side (and key side unless {@link
   * #saeKey}).
   */
  public CircuitQuery saeIn(SaeDictionary s) {
    this.saeIn = s;
    return this;
  }

  /** A different SAE (same stream) for the key side. */
  public CircuitQuery saeKey(SaeDictionary s) {
    this.saeKey = s;
    return this;
  }

  /** The SAE on the layer's output stream (OV output side). */
  public CircuitQuery saeOut(SaeDictionary s) {
    this.saeOut = s;
    return this;
  }

  /** Labels of the input SAE's features. */
  public CircuitQuery labelsIn(FeatureLabels l) {
    this.labelsIn = l;
    return this;
  }

  /** Labels of the key SAE's features (when {@link #saeKey} differs). */
  public CircuitQuery labelsKey(FeatureLabels l) {
    this.labelsKey = l;
    return this;
  }

  /** Labels of the output SAE's features. */
  public CircuitQuery labelsOut(FeatureLabels l) {
    this.labelsOut = l;
    return this;
  }

  /** Only these query heads (default: {@link HeadSet#all()}). */
  public CircuitQuery heads(HeadSet heads) {
    spec = spec.withHeads(heads);
    return this;
  }

  /** Only these query heads (sorted, repeats dropped); none given means all. */
  public CircuitQuery heads(int... heads) {
    return heads(heads.length == 0 ? HeadSet.all() : HeadSet.of(heads));
  }

  /** Entries per head (default 1000). */
  public CircuitQuery top(int k) {
    spec = spec.withTopK(k);
    return this;
  }

  /** Ranking: {@link RankBy#ABS} (default), {@link RankBy#VALUE} or {@link RankBy#NEG_VALUE}. */
  public CircuitQuery rankBy(RankBy r) {
    spec = spec.withRankBy(java.util.Objects.requireNonNull(r, "ranking"));
    return this;
  }

  /** Leave out self pairs (query feature = key feature). */
  public CircuitQuery excludeSelf() {
    spec = spec.withExcludeSelf(true);
    return this;
  }

  /** Scale QK values by the model's query scale (1/√d_head, Gemma's query_pre_attn_scalar). */
  public CircuitQuery queryScale() {
    spec = spec.withQueryScale(true);
    return this;
  }

  /** Turns exact norm-bound pruning off (it never changes results; for comparison only). */
  public CircuitQuery noPrune() {
    spec = spec.withPrune(false);
    return this;
  }

  /**
   * How tiles are screened before exact rescoring: {@link Screen#INT8} or {@link Screen#FP32}
   * (default {@link Screen#auto()}). The tables are identical; only the speed differs.
   */
  public CircuitQuery screen(Screen s) {
    screen = s;
    return this;
  }

  /**
   * QK at query–key distance {@code delta} through the model's RoPE (rotate-half pairing unless
   * {@link #pairing}).
   */
  public CircuitQuery position(int delta) {
    spec = spec.withPosition(delta, spec.pairing());
    return this;
  }

  /**
   * RoPE pairing for {@link #position} and {@link #ropeProfile}: {@link Rope.Pairing#ROTATE_HALF}
   * (default; Gemma, Llama) or {@link Rope.Pairing#INTERLEAVED}.
   */
  public CircuitQuery pairing(Rope.Pairing p) {
    spec = spec.withPosition(spec.position(), java.util.Objects.requireNonNull(p, "pairing"));
    return this;
  }

  /** Cosine-normalised values (each divided by the norms of its two vectors). */
  public CircuitQuery cosine() {
    spec = spec.withCosine(true);
    return this;
  }

  /**
   * Makes the QK singular-value decompositions bias-augmented: the query and key biases join the
   * factors as an extra input dimension (see the maths document, "Head SVD").
   */
  public CircuitQuery biasAugmented() {
    biasAugmented = true;
    return this;
  }

  /** One head's QK circuit as an SVD (bias-augmented after {@link #biasAugmented()}). */
  public HeadSvd qkSvd(int head) {
    return HeadSvd.qk(model.attention(layer), head, biasAugmented);
  }

  /**
   * One head's OV circuit as an SVD (the output side centred when the output SAE reads a centred
   * stream).
   */
  public HeadSvd ovSvd(int head) {
    return HeadSvd.ov(
        model.attention(layer), head, saeOut != null && saeOut.config().centeredStream());
  }

  /**
   * How QK passes the model's per-head q/k norms (Gemma 3, Qwen3): {@link QkNorm#EXACT} (default,
   * the single-feature table the model computes) or {@link QkNorm#PROXY} (gains only, bilinear).
   * Models without q/k norms ignore it.
   */
  public CircuitQuery qkNorm(QkNorm n) {
    this.qkNorm = n;
    return this;
  }

  /** Progress reporter (default: a progress bar in a notebook, nothing elsewhere). */
  public CircuitQuery progress(Progress p) {
    this.progress = p;
    return this;
  }

  /**
   * Where a one-line warning goes when labels cannot be confirmed to fit their SAE (default:
   * stderr).
   */
  public CircuitQuery warnings(java.util.function.Consumer<String> sink) {
    this.warnings = sink;
    return this;
  }

  /** The QK tables. */
  public FeatureTable qk() {
    return run(EnumSet.of(CircuitKind.QK));
  }

  /** The OV tables (needs {@link #saeOut}). */
  public FeatureTable ov() {
    return run(EnumSet.of(CircuitKind.OV));
  }

  /** QK and OV in one pass, sharing the projections. */
  public FeatureTable both() {
    return run(EnumSet.allOf(CircuitKind.class));
  }

  /**
   * The QK circuit summed over the layer's heads, with per-head parts, head spread and "weak in
   * every head".
   */
  public Analysis qkSum() {
    return sum(CircuitKind.QK);
  }

  /** The OV circuit summed over the layer's heads (needs {@link #saeOut}). */
  public Analysis ovSum() {
    return sum(CircuitKind.OV);
  }

  private Analysis sum(CircuitKind kind) {
    Progress p = progress != null ? progress : Notebook.progress();
    try (FeatureCircuits fc = open()) {
      LayerTable t = fc.computeSum(kind, spec, p);
      return Analyses.layerSum(
          t,
          labelsIn,
          kind == CircuitKind.QK ? (saeKey == null ? labelsIn : labelsKey) : labelsOut);
    }
  }

  /**
   * The post's positional profile: each head's QK score of the input SAE's decoder bias with
   * itself, over log-spaced distances up to the context length; with {@code pairs}, of those
   * query/key feature pairs instead.
   */
  public Analysis ropeProfile(FeaturePair... pairs) {
    return ropeProfile(List.of(pairs));
  }

  /**
   * As {@link #ropeProfile(FeaturePair...)}: the decoder bias when {@code pairs} is empty, else
   * those pairs.
   */
  public Analysis ropeProfile(List<FeaturePair> pairs) {
    requireSaeIn();
    AttentionWeights attn = model.attention(layer);
    ModelConfig c = model.config();
    Rope rope = Rope.of(c, layer, spec.pairing());
    int[] deltas = PositionalProfile.logDeltas(c.maxPositions(), 50);
    double scale = spec.queryScale() ? c.queryScale() : 1.0;
    int[][] qk =
        pairs.isEmpty()
            ? null
            : pairs.stream().map(p -> new int[] {p.query(), p.key()}).toArray(int[][]::new);
    List<PositionalProfile.Point> pts =
        PositionalProfile.ofSae(
            attn,
            rope,
            saeIn,
            saeKey == null ? saeIn : saeKey,
            qk,
            spec.heads(),
            deltas,
            scale,
            qkNorm);
    return Analyses.profile(pts, c.isSliding(layer) ? c.slidingWindow() : 0);
  }

  /**
   * Singular-value spectra of the chosen heads' QK and OV circuits (Franco &amp; Crovella), with
   * the plot.
   */
  public Analysis spectra() {
    List<HeadSvd> all = new java.util.ArrayList<>();
    int[] heads = spec.heads().resolve(model.config());
    for (CircuitKind kind : CircuitKind.values()) {
      for (int h : heads) {
        all.add(kind == CircuitKind.QK ? qkSvd(h) : ovSvd(h));
      }
    }
    return Analyses.spectra(all);
  }

  /** One head's SVD (QK or OV), for loadings and per-pair splits. */
  public HeadSvd svd(CircuitKind circuit, int head) {
    return switch (circuit) {
      case QK -> qkSvd(head);
      case OV -> ovSvd(head);
    };
  }

  /**
   * Features loading most on the first {@code directions} singular directions of one head's
   * circuit, on one side (query or key for QK, value or output for OV).
   */
  public Analysis loadings(
      CircuitKind circuit, int head, HeadSvd.Side sd, int directions, int top) {
    if (sd.kind() != circuit) {
      throw new IllegalArgumentException(
          "side " + sd.id() + " belongs to the " + sd.kind() + " circuit, not " + circuit);
    }
    HeadSvd s = svd(circuit, head);
    requireSaeIn();
    org.nd4j.linalg.api.ndarray.INDArray rows =
        switch (sd) {
          case QUERY, VALUE -> saeIn.wDec();
          case KEY -> (saeKey == null ? saeIn : saeKey).wDec();
          case OUTPUT -> {
            if (saeOut == null) {
              throw new IllegalArgumentException(
                  "output-side loadings need the output SAE (saeOut)");
            }
            yield saeOut.wEnc().transpose();
          }
        };
    FeatureLabels l =
        sd == HeadSvd.Side.OUTPUT
            ? labelsOut
            : sd == HeadSvd.Side.KEY && saeKey != null ? labelsKey : labelsIn;
    return Analyses.loadings(s, sd, rows, l, directions, top);
  }

  /**
   * Drill-down: one input-SAE feature's top partners in each chosen head, as query, key, value (and
   * output).
   */
  public Analysis feature(int feature, int top) {
    try (FeatureCircuits fc = open()) {
      List<FeatureRole> roles =
          saeOut == null
              ? List.of(FeatureRole.QUERY, FeatureRole.KEY)
              : List.of(FeatureRole.values());
      int[] heads = spec.heads().resolve(model.config());
      return Analyses.feature(
          fc,
          feature,
          roles,
          heads,
          top,
          spec.rankBy(),
          spec.cosine(),
          labelsIn,
          saeKey == null ? labelsIn : labelsKey,
          labelsOut);
    }
  }

  /** The post's QK–OV scatter of one head, with Pearson's r. */
  public Analysis scatter(int head) {
    try (FeatureCircuits fc = open()) {
      return Analyses.scatter(fc.qkOvScatter(head));
    }
  }

  /** The projections themselves, for plots and drill-down; close it when done. */
  public FeatureCircuits open() {
    requireSaeIn();
    return FeatureCircuits.of(
            model.attention(layer), saeIn, saeKey == null ? saeIn : saeKey, saeOut, qkNorm)
        .screen(screen);
  }

  private void requireSaeIn() {
    if (saeIn == null) {
      throw new IllegalArgumentException(
          "no input SAE: the SAE on the layer's input stream (saeIn(...))");
    }
    checkLabels();
  }

  /**
   * Refuses labels of another SAE before any are shown; every computation with the SAEs passes
   * here.
   */
  private void checkLabels() {
    LabelMatch.require(labelsIn, saeIn, warnings);
    LabelMatch.require(labelsKey, saeKey, warnings);
    LabelMatch.require(labelsOut, saeOut, warnings);
  }

  private FeatureTable run(EnumSet<CircuitKind> kinds) {
    requireSaeIn();
    if (kinds.contains(CircuitKind.OV) && saeOut == null) {
      throw new IllegalArgumentException(
          "the OV circuit needs the SAE on the layer's output stream (saeOut(...))");
    }
    Progress p = progress != null ? progress : Notebook.progress();
    List<CircuitTable> tables;
    try (FeatureCircuits fc =
        FeatureCircuits.of(
            model.attention(layer),
            saeIn,
            saeKey == null ? saeIn : saeKey,
            kinds.contains(CircuitKind.OV) ? saeOut : null,
            qkNorm)) {
      tables = fc.screen(screen).compute(spec.withKinds(kinds), p);
    }
    return new FeatureTable(tables, labelsIn, saeKey == null ? labelsIn : labelsKey, labelsOut);
  }

  /** What the query will compute: layer, heads, k and the SAEs chosen so far. */
  @Override
  public String toString() {
    return "CircuitQuery L"
        + layer
        + " of "
        + model.folder()
        + ": heads "
        + spec.heads()
        + ", top "
        + spec.topK()
        + " by "
        + spec.rankBy()
        + ", sae in "
        + (saeIn == null ? "-" : saeIn.path())
        + (saeKey == null ? "" : ", sae key " + saeKey.path())
        + ", sae out "
        + (saeOut == null ? "-" : saeOut.path());
  }
}
