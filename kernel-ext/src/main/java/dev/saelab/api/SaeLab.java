package dev.saelab.api;

import dev.saelab.forward.Activations;
import dev.saelab.forward.ForwardPass;
import dev.saelab.forward.Hook;
import dev.saelab.io.Backend;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;

/**
 * The notebook entry point: load SAEs, models and labels, compute feature tables, run magics from
 * Java.
 *
 * <pre>
 * SaeLab.init();                                   // IJava and rapaio; JJava installs itself
 * var model = SaeLab.model("datasets/tiny-gemma2");
 * var sae0  = SaeLab.sae("datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12");
 * var sae1  = SaeLab.sae("datasets/tiny-gemma-scope/layer_1/width_96/average_l0_9");
 * FeatureTable qk = SaeLab.circuits(model, 1).saeIn(sae0).heads(1).top(10).qk();
 * FeatureTable ov = SaeLab.circuits(model, 1).saeIn(sae0).saeOut(sae1).top(10).ov();
 * </pre>
 *
 * Every magic has this Java form too: {@code SaeLab.magic("qk --heads 1 --top 10")} is {@code %qk
 * --heads 1 --top 10}.
 */
public final class SaeLab {
  private static volatile Frontend frontend;

  private SaeLab() {}

  /**
   * Connects to the running kernel (renderers, magics, progress bars) and starts ND4J. Idempotent;
   * JJava calls it through its Extension service, IJava and rapaio users call it once.
   *
   * @return the kernel adapter installed: "jjava", "ijava", "rapaio" or "none"
   */
  public static String init() {
    Backend.init();
    return frontend().install();
  }

  /** Opens an SAE: a Gemma Scope folder or {@code params.npz}, or a SAELens folder. */
  public static SaeDictionary sae(String path) {
    return SaeDictionary.open(dev.saelab.hub.Sources.fromEnvironment().sae(path));
  }

  /** Opens a model folder (config.json + safetensors); layers load lazily. */
  public static ModelWeights model(String path) {
    return ModelWeights.open(dev.saelab.hub.Sources.fromEnvironment().model(path, null));
  }

  /**
   * Reads Neuronpedia labels: an old JSON export, or a bulk-export folder of {@code
   * batch-N.jsonl.gz}.
   */
  public static FeatureLabels labels(String path) {
    return NeuronpediaLabels.read(dev.saelab.hub.Sources.fromEnvironment().labels(path));
  }

  /**
   * An SAE by release name and id from the registry, e.g. {@code
   * sae("gemma-scope-2b-pt-res-canonical", "layer_12/width_16k/canonical")}; downloaded into the
   * Hugging Face cache on first use.
   */
  public static SaeDictionary sae(String release, String id) {
    return sae(release + "/" + id);
  }

  /**
   * A model with one layer's attention: a local folder, a registry alias ({@code gemma-2-2b}) or
   * {@code hf://ORG/NAME[@REVISION]}; for remote models only that layer's attention tensors are
   * fetched.
   */
  public static ModelWeights model(String spec, int layer) {
    return ModelWeights.open(dev.saelab.hub.Sources.fromEnvironment().model(spec, layer));
  }

  /** Starts a QK/OV query on one layer of a model. */
  public static CircuitQuery circuits(ModelWeights model, int layer) {
    return new CircuitQuery(model, layer);
  }

  /**
   * Runs a magic line from Java, as the kernels' {@code %name args} does: {@code SaeLab.magic("qk
   * --heads 1")}. The leading {@code %} is optional. Returns what the magic returns.
   */
  @SuppressWarnings("unchecked")
  public static <T> T magic(String line) {
    return (T) frontend().magic(line);
  }

  /** The list of magics with examples. */
  public static String help() {
    return frontend().help();
  }

  private static Frontend frontend() {
    Frontend f = frontend;
    if (f == null) {
      f =
          frontend =
              java.util.ServiceLoader.load(Frontend.class, SaeLab.class.getClassLoader())
                  .findFirst()
                  .orElseThrow(
                      () ->
                          new IllegalStateException(
                              "SAE Lab's notebook front-end is missing from the class path"
                                  + " (META-INF/services/dev.saelab.api.Frontend)"));
    }
    return f;
  }

  /**
   * Composition between heads, from the weights (math.md §19): the {@code top} strongest Q-, K- and
   * V-composition paths between a head of one layer and a head of a later one, each with the
   * singular directions of the later head that carry it and, with {@code sae} (an SAE on a residual
   * stream between the two heads, or null), the SAE features that carry it; with a heat map of the
   * strongest score, source head × target head. {@code layers}: the layers to pair (none: every
   * layer).
   *
   * <pre>
   * var m = SaeLab.model("datasets/tiny-composition/model");
   * var sae = SaeLab.sae("datasets/tiny-composition/blocks.1.hook_resid_pre");
   * SaeLab.composition(m, sae, 10)           // Q L0H1 -> L1H2 first, feature 11 carrying it
   * </pre>
   */
  public static Analysis composition(
      ModelWeights model, SaeDictionary sae, int top, int... layers) {
    if (top < 1) {
      throw new IllegalArgumentException("top " + top + ": expected at least 1 path");
    }
    try (dev.saelab.circuits.Composition c =
        layers.length == 0
            ? dev.saelab.circuits.Composition.of(model)
            : dev.saelab.circuits.Composition.of(model, layers)) {
      return Analyses.composition(c, c.strongest(top), sae, null, 5, 3);
    }
  }

  /**
   * Runs the model on {@code tokenIds} up to {@code layer} and shows head {@code head}'s attention:
   * a heat map of the pattern (query position × key position, labelled by token id) above the table
   * {@code query_pos, key_pos, score, pattern} of every position the query may attend to (score:
   * pre-softmax after the query scale, soft-cap and mask). The same numbers as {@code saelab
   * attention}.
   *
   * <pre>
   * SaeLab.attention(model, 1, 3, 2, 17, 5, 33, 9, 41, 12, 60)   // L1H3 on eight tokens
   * </pre>
   */
  public static Analysis attention(ModelWeights model, int layer, int head, int... tokenIds) {
    if (layer < 0 || layer >= model.config().nLayers()) {
      throw new IllegalArgumentException(
          "layer " + layer + ": the model has layers 0.." + (model.config().nLayers() - 1));
    }
    if (head < 0 || head >= model.config().nHeads()) {
      throw new IllegalArgumentException(
          "head " + head + ": the layer has heads 0.." + (model.config().nHeads() - 1));
    }
    ForwardPass.checkTokens(model, tokenIds);
    Hook scores = Hook.of(layer, Hook.Point.ATTN_SCORES);
    Hook pattern = Hook.of(layer, Hook.Point.PATTERN);
    try (Activations a =
        ForwardPass.runHooks(model, tokenIds, java.util.List.of(scores, pattern))) {
      float[][] s = a.get(scores).slice(head).toFloatMatrix();
      float[][] p = a.get(pattern).slice(head).toFloatMatrix();
      int n = tokenIds.length;
      tech.tablesaw.api.Table t =
          tech.tablesaw.api.Table.create(
              "attention",
              tech.tablesaw.api.IntColumn.create("query_pos"),
              tech.tablesaw.api.IntColumn.create("key_pos"),
              tech.tablesaw.api.DoubleColumn.create("score"),
              tech.tablesaw.api.DoubleColumn.create("pattern"));
      double[][] z = new double[n][n];
      java.util.List<String> ticks = tokenTicks(model, tokenIds);
      for (int q = 0; q < n; q++) {
        for (int k = 0; k <= q; k++) {
          z[q][k] = p[q][k];
          if (s[q][k] == Float.NEGATIVE_INFINITY) {
            continue;
          }
          t.intColumn("query_pos").append(q);
          t.intColumn("key_pos").append(k);
          t.doubleColumn("score").append(s[q][k]);
          t.doubleColumn("pattern").append(p[q][k]);
        }
      }
      String name = "L" + layer + "H" + head;
      return new Analysis(
          name + " attention on " + n + " tokens (pattern; rows: query position, columns: key)",
          t,
          Plots.heatmap(
              name + " attention pattern",
              "key position:token",
              "query position:token",
              z,
              ticks,
              ticks));
    }
  }

  /**
   * How well layer {@code layer}'s QK tables predict its real attention on {@code tokenIds}: runs
   * the model up to the layer, encodes the layer's input with {@code sae} (which must read that
   * stream) and compares, per head and distance band, the tables' predicted scores of the active
   * feature pairs with the real pre-softmax scores (Spearman ρ; {@link
   * dev.saelab.circuits.ScoreValidation}). Position 0 (BOS, the usual attention sink) is left out
   * when {@code skipFirst}.
   *
   * <pre>
   * SaeLab.validate(model, 1, sae, true, 2, 17, 5, 33, 9, 41, 12, 60)
   * </pre>
   */
  public static Analysis validate(
      ModelWeights model, int layer, SaeDictionary sae, boolean skipFirst, int... tokenIds) {
    checkLayer(model, layer);
    ForwardPass.checkTokens(model, tokenIds);
    dev.saelab.circuits.ScoreValidation.checkStream(sae, layer);
    Hook in = Hook.of(layer, Hook.Point.RESID_PRE);
    Hook scores = Hook.of(layer, Hook.Point.ATTN_SCORES);
    try (Activations a = ForwardPass.runHooks(model, tokenIds, java.util.List.of(in, scores))) {
      return validate(model, layer, sae, skipFirst, a.get(in), a.get(scores));
    }
  }

  /**
   * As {@link #validate(ModelWeights, int, SaeDictionary, boolean, int...)} on activations recorded
   * elsewhere (e.g. {@code Activations.read(file)} of a TransformerLens cache): the layer's input
   * {@code residPre [T, d_model]} ({@code blocks.L.hook_resid_pre}) and its scores {@code [n_heads,
   * T, T]} ({@code blocks.L.attn.hook_attn_scores}); only layer {@code layer}'s weights are read.
   */
  public static Analysis validate(
      ModelWeights model,
      int layer,
      SaeDictionary sae,
      boolean skipFirst,
      org.nd4j.linalg.api.ndarray.INDArray residPre,
      org.nd4j.linalg.api.ndarray.INDArray scores) {
    checkLayer(model, layer);
    dev.saelab.circuits.ScoreValidation.checkStream(sae, layer);
    try (dev.saelab.sae.FeatureActivations acts =
        dev.saelab.sae.SaeEncoder.of(sae).encode(residPre)) {
      return Analyses.validation(
          dev.saelab.circuits.ScoreValidation.of(
              model.attention(layer),
              sae,
              acts,
              scores,
              dev.saelab.circuits.QkNorm.EXACT,
              skipFirst),
          (int) residPre.size(0));
    }
  }

  /**
   * Layer {@code layer} on {@code tokenIds}, ready to split its scores and writes over the features
   * of {@code sae} (which reads the layer's input): runs the model up to the layer and records its
   * input ({@link dev.saelab.circuits.LayerAttribution}; math.md §16).
   *
   * <pre>
   * var la = SaeLab.attribution(model, 1, sae, 2, 17, 5, 33, 9, 41, 12, 60);
   * SaeLab.qkAttribution(la, 1, 5, 2, 10, labels)      // L1H1, query 5 → key 2, top 10 pairs
   * </pre>
   */
  public static dev.saelab.circuits.LayerAttribution attribution(
      ModelWeights model, int layer, SaeDictionary sae, int... tokenIds) {
    checkLayer(model, layer);
    ForwardPass.checkTokens(model, tokenIds);
    dev.saelab.circuits.LayerAttribution.requireInputSae(model.attention(layer), sae);
    Hook in = Hook.of(layer, Hook.Point.RESID_PRE);
    try (Activations a = ForwardPass.runHooks(model, tokenIds, java.util.List.of(in))) {
      return dev.saelab.circuits.LayerAttribution.of(model.attention(layer), sae, a.get(in));
    }
  }

  /**
   * As {@link #attribution(ModelWeights, int, SaeDictionary, int...)} on the layer's input recorded
   * elsewhere ({@code blocks.L.hook_resid_pre}, {@code [T, d_model]}); only the layer's weights are
   * read.
   */
  public static dev.saelab.circuits.LayerAttribution attribution(
      ModelWeights model,
      int layer,
      SaeDictionary sae,
      org.nd4j.linalg.api.ndarray.INDArray residPre) {
    checkLayer(model, layer);
    dev.saelab.circuits.LayerAttribution.requireInputSae(model.attention(layer), sae);
    return dev.saelab.circuits.LayerAttribution.of(model.attention(layer), sae, residPre);
  }

  /**
   * Head {@code head}'s pre-softmax score of query position {@code queryPos} on key position {@code
   * keyPos}, split over (query feature, key feature) pairs: the top {@code top} pairs by |term| as
   * a QK feature table (values: the terms), with a note giving the model's score, the grouped terms
   * (feature pairs, errors, b_dec, biases) that add up to it, and the share the pairs shown
   * explain.
   */
  public static FeatureTable qkAttribution(
      dev.saelab.circuits.LayerAttribution la,
      int head,
      int queryPos,
      int keyPos,
      int top,
      FeatureLabels labels) {
    dev.saelab.circuits.QkAttribution qk = la.qk(head, queryPos, keyPos);
    String note =
        String.format(
            java.util.Locale.ROOT,
            "%s score of query %d on key %d: %.6g%s = feature pairs %.6g + features×error %.6g +"
                + " error×features %.6g + error×error %.6g + b_dec %.6g + bias %.6g; the %d pairs"
                + " shown sum to %.1f%% of the score",
            qk.headName(),
            queryPos,
            keyPos,
            qk.modelScore(),
            qk.cappedScore() != qk.modelScore()
                ? String.format(java.util.Locale.ROOT, " (soft-capped %.6g)", qk.cappedScore())
                : "",
            qk.featurePairs(),
            qk.featuresError(),
            qk.errorFeatures(),
            qk.errorError(),
            qk.bDecTerms(),
            qk.biasTerms(),
            Math.min(top, qk.pairCount()),
            100 * qk.share(top));
    return new FeatureTable(java.util.List.of(qk.table(top)), labels, null).withNote(note);
  }

  /**
   * What head {@code head} writes at destination {@code destPos}, split over (value feature, output
   * feature) pairs summed over the source positions and weighted by the pattern: the top {@code
   * top} pairs as an OV feature table (values: the terms), read by {@code outSae} on the layer's
   * output stream.
   */
  public static FeatureTable ovAttribution(
      dev.saelab.circuits.LayerAttribution la,
      int head,
      int destPos,
      SaeDictionary outSae,
      int top,
      FeatureLabels inLabels,
      FeatureLabels outLabels) {
    dev.saelab.circuits.OvAttribution ov = la.ov(head, destPos, outSae);
    String note =
        String.format(
            java.util.Locale.ROOT,
            "%s at destination %d: (value feature, output feature) terms summed over %d source"
                + " positions, weighted by the pattern; output features' pre-activation"
                + " contributions (the %d the head writes most)",
            ov.headName(),
            destPos,
            ov.sources().length,
            ov.outputs().length);
    return new FeatureTable(java.util.List.of(ov.table(top)), inLabels, outLabels).withNote(note);
  }

  /**
   * Head {@code head}'s score of query {@code queryPos} on key {@code keyPos} split over its
   * singular directions (Franco &amp; Crovella on a prompt): runs the model up to the layer.
   */
  public static Analysis directions(
      ModelWeights model, int layer, int head, int queryPos, int keyPos, int... tokenIds) {
    checkLayer(model, layer);
    ForwardPass.checkTokens(model, tokenIds);
    try (Activations a =
        ForwardPass.run(model, tokenIds, dev.saelab.circuits.PromptSvd.hooks(layer))) {
      return Analyses.directions(
          dev.saelab.circuits.PromptSvd.of(model, a, layer, head, queryPos, keyPos));
    }
  }

  /**
   * As {@link #directions(ModelWeights, int, int, int, int, int...)} on activations recorded
   * elsewhere, holding at least {@code PromptSvd.hooks(layer)} (the layer's resid_pre and
   * attn_scores).
   */
  public static Analysis directions(
      ModelWeights model, int layer, int head, int queryPos, int keyPos, Activations recorded) {
    checkLayer(model, layer);
    return Analyses.directions(
        dev.saelab.circuits.PromptSvd.of(model, recorded, layer, head, queryPos, keyPos));
  }

  /**
   * As {@link #headPaths(ModelWeights, int, int, int, int, double, int...)} on activations recorded
   * elsewhere, holding at least {@code HeadPaths.hooks(layer)}; the model must have every layer up
   * to {@code layer}.
   */
  public static Analysis headPaths(
      ModelWeights model,
      int layer,
      int head,
      int queryPos,
      int keyPos,
      double share,
      Activations recorded) {
    checkLayer(model, layer);
    return Analyses.headPaths(
        dev.saelab.circuits.HeadPaths.of(model, recorded, layer, head, queryPos, keyPos, share));
  }

  /**
   * Which upstream writers (earlier heads, MLPs, the embedding) feed head {@code head}'s directions
   * carrying {@code share} (e.g. 0.9) of its score of query {@code queryPos} on key {@code keyPos}:
   * Franco &amp; Crovella's communication paths between heads, on a prompt.
   */
  public static Analysis headPaths(
      ModelWeights model,
      int layer,
      int head,
      int queryPos,
      int keyPos,
      double share,
      int... tokenIds) {
    checkLayer(model, layer);
    ForwardPass.checkTokens(model, tokenIds);
    return Analyses.headPaths(
        dev.saelab.circuits.HeadPaths.trace(model, tokenIds, layer, head, queryPos, keyPos, share));
  }

  /**
   * Traces back from head {@code head} of layer {@code layer} at (query {@code queryPos}, key
   * {@code keyPos}) through the upstream heads writing its strongest singular directions, {@code
   * perHead} heads per step and {@code depth} steps ({@link dev.saelab.circuits.PathTrace}): a
   * table of edges {@code depth, source, source_query, source_key, target, target_query,
   * target_key, k, side, contribution, share}.
   *
   * <pre>
   * SaeLab.trace(gpt2, 9, 9, last, io, 0.9, 3, 2, ids)   // a name mover's query at the end
   * </pre>
   */
  public static Analysis trace(
      ModelWeights model,
      int layer,
      int head,
      int queryPos,
      int keyPos,
      double share,
      int perHead,
      int depth,
      int... tokenIds) {
    checkLayer(model, layer);
    ForwardPass.checkTokens(model, tokenIds);
    java.util.List<dev.saelab.circuits.PathTrace.Edge> edges =
        dev.saelab.circuits.PathTrace.trace(
            model, tokenIds, layer, head, queryPos, keyPos, share, perHead, depth);
    tech.tablesaw.api.Table t =
        tech.tablesaw.api.Table.create(
            "trace",
            tech.tablesaw.api.IntColumn.create("depth"),
            tech.tablesaw.api.StringColumn.create("source"),
            tech.tablesaw.api.IntColumn.create("source_query"),
            tech.tablesaw.api.IntColumn.create("source_key"),
            tech.tablesaw.api.StringColumn.create("target"),
            tech.tablesaw.api.IntColumn.create("target_query"),
            tech.tablesaw.api.IntColumn.create("target_key"),
            tech.tablesaw.api.IntColumn.create("k"),
            tech.tablesaw.api.StringColumn.create("side"),
            tech.tablesaw.api.DoubleColumn.create("contribution"),
            tech.tablesaw.api.DoubleColumn.create("share"));
    for (dev.saelab.circuits.PathTrace.Edge e : edges) {
      t.intColumn("depth").append(e.depth());
      t.stringColumn("source").append(e.source());
      t.intColumn("source_query").append(e.sourceQuery());
      t.intColumn("source_key").append(e.sourceKey());
      t.stringColumn("target").append(e.target());
      t.intColumn("target_query").append(e.targetQuery());
      t.intColumn("target_key").append(e.targetKey());
      t.intColumn("k").append(e.k());
      t.stringColumn("side").append(e.side().id());
      t.doubleColumn("contribution").append(e.contribution());
      t.doubleColumn("share").append(e.share());
    }
    return new Analysis(
        "paths into L"
            + layer
            + "H"
            + head
            + " (query "
            + queryPos
            + ", key "
            + keyPos
            + "): upstream heads writing its strongest singular directions, "
            + depth
            + " steps back",
        t,
        null);
  }

  /**
   * The strongest SAE features at each token: runs the model up to {@code layer}, encodes the
   * layer's input with {@code sae} (which must read that stream) and lists each position's {@code
   * top} features by activation, with labels when given; the plot is a strip, features (rows, the
   * union of every position's top) × tokens (columns), shaded by activation.
   *
   * <pre>
   * SaeLab.tokenFeatures(model, 1, sae, labels, 3, 2, 17, 5, 33, 9, 41, 12, 60)
   * </pre>
   */
  public static Analysis tokenFeatures(
      ModelWeights model,
      int layer,
      SaeDictionary sae,
      FeatureLabels labels,
      int top,
      int... tokenIds) {
    checkLayer(model, layer);
    if (top < 1) {
      throw new IllegalArgumentException("top " + top + ": expected at least 1");
    }
    ForwardPass.checkTokens(model, tokenIds);
    dev.saelab.circuits.ScoreValidation.checkStream(sae, layer);
    Hook in = Hook.of(layer, Hook.Point.RESID_PRE);
    try (Activations a = ForwardPass.runHooks(model, tokenIds, java.util.List.of(in));
        dev.saelab.sae.FeatureActivations acts =
            dev.saelab.sae.SaeEncoder.of(sae).encode(a.get(in))) {
      java.util.List<String> ticks = tokenTicks(model, tokenIds);
      tech.tablesaw.api.Table t =
          tech.tablesaw.api.Table.create(
              "token features",
              tech.tablesaw.api.IntColumn.create("position"),
              tech.tablesaw.api.StringColumn.create("token"),
              tech.tablesaw.api.IntColumn.create("rank"),
              tech.tablesaw.api.IntColumn.create("feature"),
              tech.tablesaw.api.DoubleColumn.create("activation"),
              tech.tablesaw.api.StringColumn.create("label"));
      java.util.TreeSet<Integer> shown = new java.util.TreeSet<>();
      for (int p = 0; p < tokenIds.length; p++) {
        int[] f = acts.features(p);
        float[] v = acts.values(p);
        Integer[] order = new Integer[f.length];
        for (int i = 0; i < f.length; i++) {
          order[i] = i;
        }
        java.util.Arrays.sort(
            order,
            (x, y) -> v[x] != v[y] ? Float.compare(v[y], v[x]) : Integer.compare(f[x], f[y]));
        for (int r = 0; r < Math.min(top, f.length); r++) {
          int i = order[r];
          t.intColumn("position").append(p);
          t.stringColumn("token").append(ticks.get(p).substring(ticks.get(p).indexOf(':') + 1));
          t.intColumn("rank").append(r + 1);
          t.intColumn("feature").append(f[i]);
          t.doubleColumn("activation").append(v[i]);
          t.stringColumn("label").append(labels == null ? "" : labels.labelOrEmpty(f[i]));
          shown.add(f[i]);
        }
      }
      String title =
          "the "
              + top
              + " strongest of "
              + sae.config().dSae()
              + " features ("
              + sae.config().hookName()
              + ") at each of "
              + tokenIds.length
              + " tokens (layer "
              + layer
              + "'s input)";
      if (shown.isEmpty()) {
        return new Analysis(title + ": none active", t, null);
      }
      java.util.List<String> rows = new java.util.ArrayList<>();
      double[][] z = new double[shown.size()][tokenIds.length];
      int r = 0;
      for (int f : shown) {
        String label = labels == null ? "" : labels.labelOrEmpty(f);
        rows.add(
            f
                + (label.isEmpty()
                    ? ""
                    : " " + (label.length() > 24 ? label.substring(0, 23) + "…" : label)));
        for (int p = 0; p < tokenIds.length; p++) {
          z[r][p] = acts.activation(p, f);
        }
        r++;
      }
      return new Analysis(
          title,
          t,
          Plots.heatmap(
              "feature activations per token", "position:token", "feature", z, ticks, rows));
    }
  }

  /**
   * Axis labels {@code position:token} (the token as the model folder's tokenizer decodes it, else
   * its id), shortened to 12 characters.
   */
  static java.util.List<String> tokenTicks(ModelWeights model, int[] ids) {
    java.util.List<String> strings =
        dev.saelab.forward.Tokenizer.tokenStrings(model.folder(), ids).orElse(null);
    java.util.List<String> ticks = new java.util.ArrayList<>();
    for (int i = 0; i < ids.length; i++) {
      String tok = strings == null ? Integer.toString(ids[i]) : strings.get(i);
      ticks.add(i + ":" + (tok.length() > 12 ? tok.substring(0, 11) + "…" : tok));
    }
    return ticks;
  }

  private static void checkLayer(ModelWeights model, int layer) {
    if (layer < 0 || layer >= model.config().nLayers()) {
      throw new IllegalArgumentException(
          "layer " + layer + ": the model has layers 0.." + (model.config().nLayers() - 1));
    }
  }

  /** Displays an object now (tables, plots) in the running notebook. */
  public static void display(Object o) {
    Notebook.display(o);
  }
}
