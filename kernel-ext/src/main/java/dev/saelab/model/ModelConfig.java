package dev.saelab.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.saelab.io.Json;
import dev.saelab.io.SaeLabException;
import java.nio.file.Path;

/**
 * A transformer's attention-relevant hyper-parameters, read from a Hugging Face {@code
 * config.json}.
 *
 * @param modelType {@code gemma2}, {@code gemma3_text} (also for a nested {@code gemma3}), {@code
 *     gpt2}, {@code llama}, {@code mistral}, {@code qwen2} or {@code qwen3}
 * @param dModel residual width (d_model)
 * @param nLayers number of layers
 * @param nHeads query heads per layer
 * @param nKvHeads key/value heads per layer (GQA: query head h reads KV head {@code h / (nHeads /
 *     nKvHeads)})
 * @param dHead width of one head
 * @param norm input-norm kind
 * @param normEps norm epsilon
 * @param ropeTheta RoPE base, or 0 for models without rotary embeddings (GPT-2)
 * @param queryScale factor on q·k before softmax (1/√d_head, or Gemma's {@code
 *     query_pre_attn_scalar^-1/2})
 * @param attnSoftcap Gemma's attention-logit soft cap (0 when none)
 * @param slidingWindow sliding-window length (0 when none)
 * @param slidingLayers per layer, whether its attention uses the sliding window
 * @param postAttnNorm whether attention output passes through its own norm before joining the
 *     residual (Gemma 2)
 * @param maxPositions context length
 * @param qkNorm the per-head norm of queries and keys before RoPE ({@code q_norm}/{@code k_norm}:
 *     Gemma 3 {@link NormKind#RMS_ONE_PLUS}, Qwen3 {@link NormKind#RMS}), or null
 * @param rope the rotary embedding of global (full-attention) layers, and of every layer when
 *     {@code localRope} is null
 * @param localRope the rotary embedding of sliding-window layers when it differs (Gemma 3), or null
 */
public record ModelConfig(
    String modelType,
    int dModel,
    int nLayers,
    int nHeads,
    int nKvHeads,
    int dHead,
    NormKind norm,
    double normEps,
    double ropeTheta,
    double queryScale,
    double attnSoftcap,
    int slidingWindow,
    boolean[] slidingLayers,
    boolean postAttnNorm,
    int maxPositions,
    NormKind qkNorm,
    RopeParams rope,
    RopeParams localRope) {

  /**
   * Keeps its own copy of the sliding-layer flags, so the configuration cannot change after it is
   * made; an absent {@code rope} is the unscaled one of {@code ropeTheta}.
   */
  public ModelConfig {
    slidingLayers = slidingLayers == null ? new boolean[0] : slidingLayers.clone();
    rope = rope == null ? RopeParams.plain(ropeTheta) : rope;
  }

  /** A model without q/k norms and with one unscaled RoPE of base {@code ropeTheta}. */
  public ModelConfig(
      String modelType,
      int dModel,
      int nLayers,
      int nHeads,
      int nKvHeads,
      int dHead,
      NormKind norm,
      double normEps,
      double ropeTheta,
      double queryScale,
      double attnSoftcap,
      int slidingWindow,
      boolean[] slidingLayers,
      boolean postAttnNorm,
      int maxPositions) {
    this(
        modelType,
        dModel,
        nLayers,
        nHeads,
        nKvHeads,
        dHead,
        norm,
        normEps,
        ropeTheta,
        queryScale,
        attnSoftcap,
        slidingWindow,
        slidingLayers,
        postAttnNorm,
        maxPositions,
        null,
        null,
        null);
  }

  /** The rotary embedding of layer {@code l}: the sliding layers' own where the model has one. */
  public RopeParams ropeFor(int l) {
    return localRope != null && isSliding(l) ? localRope : rope;
  }

  /** Per layer, whether its attention uses the sliding window (a copy). */
  @Override
  public boolean[] slidingLayers() {
    return slidingLayers.clone();
  }

  /** The KV head that query head {@code h} reads (GQA: {@code h / (nHeads / nKvHeads)}). */
  public int kvHead(int h) {
    if (h < 0 || h >= nHeads) {
      throw new IllegalArgumentException("head " + h + " out of range 0.." + (nHeads - 1));
    }
    return h / (nHeads / nKvHeads);
  }

  /** Whether layer {@code l} uses sliding-window attention. */
  public boolean isSliding(int l) {
    return l >= 0 && l < slidingLayers.length && slidingLayers[l];
  }

  /** Parses a config.json; errors name the file and field. */
  public static ModelConfig read(Path file) {
    JsonNode c = Json.read(file);
    String type = Json.optText(c, "model_type", null);
    if ("gemma3".equals(type)) {
      // Gemma3ForConditionalGeneration (4B-27B): the text model's config is nested; the vision
      // tower's is ignored
      JsonNode text = c.get("text_config");
      if (text == null || !text.isObject()) {
        throw SaeLabException.inFile(
            file, "model_type gemma3 without a 'text_config' object (the text model's config)");
      }
      return gemma3(file, text, "text_config.");
    }
    if (type == null) {
      throw SaeLabException.inFile(
          file,
          "missing 'model_type' (expected gemma2, gemma3, gemma3_text, gpt2, llama, mistral, qwen2"
              + " or qwen3)");
    }
    switch (type) {
      case "gemma2":
        {
          int d = (int) Json.requireLong(file, c, "hidden_size");
          int n = (int) Json.requireLong(file, c, "num_hidden_layers");
          int h = (int) Json.requireLong(file, c, "num_attention_heads");
          int kv = (int) Json.optLong(c, "num_key_value_heads", h);
          int dh = (int) Json.optLong(c, "head_dim", d / h);
          double qpas = Json.optDouble(c, "query_pre_attn_scalar", dh);
          int window = (int) Json.optLong(c, "sliding_window", 0);
          boolean[] sliding = layerTypes(c, n, i -> window > 0 && i % 2 == 0);
          return check(
              file,
              new ModelConfig(
                  type,
                  d,
                  n,
                  h,
                  kv,
                  dh,
                  NormKind.RMS_ONE_PLUS,
                  Json.optDouble(c, "rms_norm_eps", 1e-6),
                  Json.optDouble(c, "rope_theta", 10000),
                  1 / Math.sqrt(qpas),
                  Json.optDouble(c, "attn_logit_softcapping", 0),
                  window,
                  sliding,
                  true,
                  (int) Json.optLong(c, "max_position_embeddings", 8192)));
        }
      case "gpt2":
        {
          int d = (int) Json.requireLong(file, c, "n_embd");
          int n = (int) Json.requireLong(file, c, "n_layer");
          int h = (int) Json.requireLong(file, c, "n_head");
          return check(
              file,
              new ModelConfig(
                  type,
                  d,
                  n,
                  h,
                  h,
                  d / h,
                  NormKind.LAYER,
                  Json.optDouble(c, "layer_norm_epsilon", 1e-5),
                  0,
                  1 / Math.sqrt(d / (double) h),
                  0,
                  0,
                  new boolean[n],
                  false,
                  (int) Json.optLong(c, "n_positions", Json.optLong(c, "n_ctx", 1024))));
        }
      case "gemma3_text":
        return gemma3(file, c, "");
      case "llama":
      case "mistral":
      case "qwen2":
      case "qwen3":
        {
          int d = (int) Json.requireLong(file, c, "hidden_size");
          int n = (int) Json.requireLong(file, c, "num_hidden_layers");
          int h = (int) Json.requireLong(file, c, "num_attention_heads");
          int kv = (int) Json.optLong(c, "num_key_value_heads", h);
          int dh = (int) Json.optLong(c, "head_dim", d / h);
          int window =
              c.hasNonNull("sliding_window")
                      && !(type.startsWith("qwen")
                          && !c.path("use_sliding_window").asBoolean(false))
                  ? (int) c.get("sliding_window").asLong()
                  : 0;
          int maxWindowLayers = (int) Json.optLong(c, "max_window_layers", 0);
          boolean[] sliding =
              layerTypes(
                  c, n, i -> window > 0 && (!type.startsWith("qwen") || i >= maxWindowLayers));
          return check(
              file,
              new ModelConfig(
                  type,
                  d,
                  n,
                  h,
                  kv,
                  dh,
                  NormKind.RMS,
                  Json.optDouble(c, "rms_norm_eps", 1e-6),
                  Json.optDouble(c, "rope_theta", 10000),
                  1 / Math.sqrt(dh),
                  0,
                  window,
                  sliding,
                  false,
                  (int) Json.optLong(c, "max_position_embeddings", 4096),
                  type.equals("qwen3") ? NormKind.RMS : null,
                  RopeParams.read(
                      file,
                      c.has("rope_parameters") ? c.get("rope_parameters") : c.get("rope_scaling"),
                      Json.optDouble(c, "rope_theta", 10000),
                      c.has("rope_parameters") ? "rope_parameters" : "rope_scaling"),
                  null));
        }
      default:
        throw SaeLabException.inFile(
            file,
            "model_type '"
                + type
                + "' is not supported (expected gemma2, gemma3, gemma3_text, gpt2, llama, mistral,"
                + " qwen2 or qwen3)");
    }
  }

  /**
   * Gemma 3's text model ({@code c}: the flat config, or a nested {@code text_config} whose fields
   * {@code where} prefixes in messages): q_norm/k_norm with (1 + w) gains, no soft-cap, per-layer
   * attention type from {@code layer_types} or {@code sliding_window_pattern}, and a RoPE per type:
   * {@code rope_local_base_freq} unscaled on sliding layers, {@code rope_theta} with {@code
   * rope_scaling} on global ones; newer configs give both as {@code rope_parameters} keyed by layer
   * type.
   */
  private static ModelConfig gemma3(Path file, JsonNode c, String where) {
    for (String f :
        new String[] {"hidden_size", "num_hidden_layers", "num_attention_heads", "head_dim"}) {
      if (!c.hasNonNull(f)) {
        throw SaeLabException.inFile(
            file, "missing '" + where + f + "' (Gemma 3 attention needs it)");
      }
    }
    int d = (int) Json.requireLong(file, c, "hidden_size");
    int n = (int) Json.requireLong(file, c, "num_hidden_layers");
    int h = (int) Json.requireLong(file, c, "num_attention_heads");
    int kv = (int) Json.optLong(c, "num_key_value_heads", h);
    int dh = (int) Json.requireLong(file, c, "head_dim");
    double qpas = Json.optDouble(c, "query_pre_attn_scalar", dh);
    int window = (int) Json.optLong(c, "sliding_window", 0);
    int pattern = (int) Json.optLong(c, "sliding_window_pattern", 6);
    boolean[] sliding = layerTypes(c, n, i -> window > 0 && (i + 1) % pattern != 0);
    RopeParams global;
    RopeParams local;
    JsonNode params = c.get("rope_parameters");
    if (params != null && params.isObject() && params.has("full_attention")) {
      global =
          RopeParams.read(
              file, params.get("full_attention"), 1e6, where + "rope_parameters.full_attention");
      local =
          RopeParams.read(
              file,
              params.get("sliding_attention"),
              1e4,
              where + "rope_parameters.sliding_attention");
    } else {
      global =
          RopeParams.read(
              file,
              c.get("rope_scaling"),
              Json.optDouble(c, "rope_theta", 1e6),
              where + "rope_scaling");
      local = RopeParams.plain(Json.optDouble(c, "rope_local_base_freq", 1e4));
    }
    return check(
        file,
        new ModelConfig(
            "gemma3_text",
            d,
            n,
            h,
            kv,
            dh,
            NormKind.RMS_ONE_PLUS,
            Json.optDouble(c, "rms_norm_eps", 1e-6),
            global.theta(),
            1 / Math.sqrt(qpas),
            Json.optDouble(c, "attn_logit_softcapping", 0),
            window,
            sliding,
            true,
            (int) Json.optLong(c, "max_position_embeddings", 32768),
            NormKind.RMS_ONE_PLUS,
            global,
            local));
  }

  private static boolean[] layerTypes(JsonNode c, int n, java.util.function.IntPredicate dflt) {
    boolean[] s = new boolean[n];
    JsonNode lt = c.get("layer_types");
    for (int i = 0; i < n; i++) {
      s[i] =
          lt != null && lt.isArray() && lt.size() == n
              ? lt.get(i).asText().equals("sliding_attention")
              : dflt.test(i);
    }
    return s;
  }

  private static ModelConfig check(Path file, ModelConfig m) {
    if (m.dModel <= 0 || m.nLayers <= 0 || m.nHeads <= 0 || m.nKvHeads <= 0 || m.dHead <= 0) {
      throw SaeLabException.inFile(
          file,
          "sizes must be positive: d_model="
              + m.dModel
              + " n_layers="
              + m.nLayers
              + " n_heads="
              + m.nHeads
              + " n_kv_heads="
              + m.nKvHeads
              + " d_head="
              + m.dHead);
    }
    if (m.nHeads % m.nKvHeads != 0) {
      throw SaeLabException.inFile(
          file, "n_heads=" + m.nHeads + " is not a multiple of n_kv_heads=" + m.nKvHeads);
    }
    return m;
  }

  @Override
  public String toString() {
    return modelType
        + ": d_model="
        + dModel
        + " n_layers="
        + nLayers
        + " n_heads="
        + nHeads
        + " n_kv_heads="
        + nKvHeads
        + " d_head="
        + dHead
        + " norm="
        + norm
        + (ropeTheta > 0
            ? " rope=" + rope + (localRope != null ? " (sliding: " + localRope + ")" : "")
            : "")
        + (qkNorm != null ? " qk_norm=" + qkNorm : "")
        + " query_scale="
        + (float) queryScale
        + (attnSoftcap > 0 ? " softcap=" + attnSoftcap : "")
        + (slidingWindow > 0 ? " sliding_window=" + slidingWindow : "");
  }

  /**
   * Value equality over every component (the sliding-layer flags by content; doubles as {@link
   * Double#compare}).
   */
  @Override
  public boolean equals(Object o) {
    return o instanceof ModelConfig m
        && java.util.Objects.equals(modelType, m.modelType)
        && dModel == m.dModel
        && nLayers == m.nLayers
        && nHeads == m.nHeads
        && nKvHeads == m.nKvHeads
        && dHead == m.dHead
        && norm == m.norm
        && Double.compare(normEps, m.normEps) == 0
        && Double.compare(ropeTheta, m.ropeTheta) == 0
        && Double.compare(queryScale, m.queryScale) == 0
        && Double.compare(attnSoftcap, m.attnSoftcap) == 0
        && slidingWindow == m.slidingWindow
        && java.util.Arrays.equals(slidingLayers, m.slidingLayers)
        && postAttnNorm == m.postAttnNorm
        && maxPositions == m.maxPositions
        && qkNorm == m.qkNorm
        && java.util.Objects.equals(rope, m.rope)
        && java.util.Objects.equals(localRope, m.localRope);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(
        modelType,
        dModel,
        nLayers,
        nHeads,
        nKvHeads,
        dHead,
        norm,
        normEps,
        ropeTheta,
        queryScale,
        attnSoftcap,
        slidingWindow,
        java.util.Arrays.hashCode(slidingLayers),
        postAttnNorm,
        maxPositions,
        qkNorm,
        rope,
        localRope);
  }
}
