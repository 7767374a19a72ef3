package dev.saelab.forward;

import dev.saelab.io.SaeLabException;
import dev.saelab.io.TensorInfo;
import dev.saelab.io.TensorSource;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import dev.saelab.model.Norm;
import dev.saelab.model.NormKind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.CustomOp;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastAddOp;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * A forward pass over token ids, in float32, computing what Hugging Face transformers computes,
 * recording only the hooks asked for and stopping at the last layer they need. Each layer's weights
 * are read when it runs and freed after it (the embedding matrix is streamed: only the rows of the
 * tokens are kept), so a 2B model runs in a few GB.
 *
 * <ul>
 *   <li>GPT-2: {@code wte + wpe}; LayerNorm {@code ln_1}; fused Conv1D {@code c_attn}; scores
 *       {@code q·k/√d_head}, causal mask, softmax; {@code c_proj}; residual; {@code ln_2}; MLP
 *       {@code c_proj(gelu_new(c_fc x))}; {@code ln_f}.
 *   <li>Gemma 2: embeddings × √d_model (rounded to float32, as transformers' normaliser); RMSNorm
 *       {@code x/√(mean(x²)+ε)·(1+w)}; rotate-half RoPE; scores × {@code query_pre_attn_scalar^-½},
 *       soft-cap {@code tanh(s/cap)·cap}; causal mask and, on sliding layers, the window (a key is
 *       hidden when {@code query_pos − key_pos ≥ sliding_window}, as transformers' {@code
 *       sliding_window_overlay}); GQA; {@code post_attention_layernorm} on the attention output;
 *       MLP {@code post_ff(down(gelu_tanh(gate h)·up h))} with {@code h = pre_ff(x)}; final norm.
 *   <li>Gemma 3: as Gemma 2 without soft-cap, with q_norm/k_norm per head before RoPE and a RoPE
 *       per layer type.
 *   <li>Llama, Mistral, Qwen2, Qwen3: RMSNorm {@code ·w}, no embedding scale, q/k norms for Qwen3,
 *       llama3/linear RoPE scaling, MLP {@code down(silu(gate h)·up h)} with {@code h =
 *       post_attention_layernorm(x)}; biases where the checkpoint has them (Qwen2).
 * </ul>
 */
public final class ForwardPass {
  private ForwardPass() {}

  /**
   * Runs {@code model} on {@code tokenIds} and records {@code hooks} (TransformerLens names, see
   * {@link Hook#parse}).
   */
  public static Activations run(ModelWeights model, int[] tokenIds, Collection<String> hooks) {
    List<Hook> parsed = new ArrayList<>();
    for (String h : hooks) {
      parsed.add(Hook.parse(h));
    }
    return runHooks(model, tokenIds, parsed);
  }

  /** As {@link #run}, with parsed hooks. */
  public static Activations runHooks(ModelWeights model, int[] tokenIds, Collection<Hook> hooks) {
    ModelConfig c = model.config();
    Set<Hook> asked = new LinkedHashSet<>(hooks);
    if (asked.isEmpty()) {
      throw new IllegalArgumentException("no hooks to record");
    }
    int last = -1;
    for (Hook h : asked) {
      if (h.point() == Hook.Point.FINAL) {
        last = c.nLayers() - 1;
      } else if (h.layer() >= c.nLayers()) {
        throw new IllegalArgumentException(
            "hook " + h + ": layer " + h.layer() + " out of range 0.." + (c.nLayers() - 1));
      } else {
        last = Math.max(last, h.layer());
      }
    }
    checkTokens(model, tokenIds);
    int t = tokenIds.length;
    int d = c.dModel();
    Map<Hook, INDArray> rec = new LinkedHashMap<>();
    float[] x = embed(model, tokenIds);
    for (int l = 0; l <= last; l++) {
      Set<Hook.Point> want = EnumSet.noneOf(Hook.Point.class);
      for (Hook h : asked) {
        if (h.layer() == l) {
          want.add(h.point());
        }
      }
      int layer = l;
      Recorder r =
          new Recorder() {
            @Override
            public void put(Hook.Point p, float[] data, long[] shape) {
              if (want.contains(p)) {
                rec.put(Hook.of(layer, p), Nd4j.create(data.clone(), shape, 'c'));
              }
            }

            @Override
            public boolean wants(Hook.Point p) {
              return want.contains(p);
            }
          };
      r.put(Hook.Point.RESID_PRE, x, new long[] {t, d});
      x = block(model, l, x, t, r);
    }
    if (asked.contains(Hook.FINAL_NORM)) {
      Norm fin = finalNorm(model);
      try {
        rec.put(
            Hook.FINAL_NORM, Nd4j.create(norm(x, t, d, fin, c.normEps()), new long[] {t, d}, 'c'));
      } finally {
        close(fin.gain(), fin.bias());
      }
    }
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (Hook h : asked) {
      out.put(h.name(), rec.get(h));
    }
    return new Activations(tokenIds, out);
  }

  /** Receives one computed activation (row-major data of the shape). */
  private interface Recorder {
    void put(Hook.Point point, float[] data, long[] shape);

    /** Whether {@code point} is recorded (what is not need not be gathered). */
    boolean wants(Hook.Point point);
  }

  /** Every token id within the vocabulary, at least one token, at most the context length. */
  public static void checkTokens(ModelWeights model, int[] ids) {
    if (ids == null || ids.length == 0) {
      throw new IllegalArgumentException("no token ids: expected at least one");
    }
    int max = model.config().maxPositions();
    if (ids.length > max) {
      throw new IllegalArgumentException(
          ids.length
              + " token ids: the model's context length (max_position_embeddings) is "
              + max);
    }
    long vocab = embedInfo(model).shape()[0];
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= vocab) {
        throw new IllegalArgumentException(
            "token id "
                + ids[i]
                + " (position "
                + i
                + ") out of range: the vocabulary has ids 0.."
                + (vocab - 1));
      }
    }
  }

  private static boolean isGpt2(ModelConfig c) {
    return c.modelType().equals("gpt2");
  }

  private static boolean isGemma(ModelConfig c) {
    return c.modelType().startsWith("gemma");
  }

  private static TensorInfo embedInfo(ModelWeights m) {
    TensorSource src = m.tensors();
    return src.info(name(m, isGpt2(m.config()) ? "wte.weight" : "model.embed_tokens.weight"));
  }

  // ---- weights by name

  /**
   * The stored name of {@code name}: as given, or under the prefix of a wrapped or multimodal
   * checkpoint ({@code transformer.}, {@code model.}, {@code language_model.}, {@code
   * model.language_model.}).
   */
  static String name(ModelWeights m, String name) {
    return m.storedName(name)
        .orElseThrow(
            () ->
                SaeLabException.inFile(
                    m.tensors().path(),
                    "no tensor '" + name + "' for a " + m.config().modelType() + " forward pass"));
  }

  private static INDArray read(ModelWeights m, String name, long... shape) {
    String full = name(m, name);
    TensorInfo t = m.tensors().info(full);
    if (!Arrays.equals(t.shape(), shape)) {
      throw SaeLabException.inTensor(
          m.tensors().path(),
          full,
          "shape "
              + t.shapeString()
              + ", expected "
              + Arrays.toString(shape)
              + " from config.json");
    }
    return m.tensors().readArray(full);
  }

  private static INDArray optional(ModelWeights m, String name, long... shape) {
    try {
      name(m, name);
    } catch (SaeLabException e) {
      return null;
    }
    return read(m, name, shape);
  }

  /**
   * Rows {@code rows} of a {@code [n, width]} tensor, each read on its own (a safetensors file maps
   * only that row's bytes), so the whole matrix is never read.
   */
  private static float[] rows(ModelWeights m, String full, int[] rows, int width) {
    float[] out = new float[rows.length * width];
    for (int i = 0; i < rows.length; i++) {
      int o = i * width;
      m.tensors()
          .readRange(
              full,
              (long) rows[i] * width,
              width,
              (offset, values, count) -> System.arraycopy(values, 0, out, o + (int) offset, count));
    }
    return out;
  }

  private static float[] embed(ModelWeights m, int[] ids) {
    ModelConfig c = m.config();
    int d = c.dModel();
    TensorInfo e = embedInfo(m);
    if (e.shape().length != 2 || e.shape()[1] != d) {
      throw SaeLabException.inTensor(
          m.tensors().path(),
          e.name(),
          "shape " + e.shapeString() + ", expected [vocab, " + d + "] from config.json");
    }
    float[] x = rows(m, e.name(), ids, d);
    if (isGpt2(c)) {
      String wpe = name(m, "wpe.weight");
      int[] pos = new int[ids.length];
      for (int i = 0; i < pos.length; i++) {
        pos[i] = i;
      }
      float[] p = rows(m, wpe, pos, d);
      for (int i = 0; i < x.length; i++) {
        x[i] += p[i];
      }
    } else if (isGemma(c)) {
      // transformers: torch.tensor(hidden_size ** 0.5, dtype=float32)
      float normalizer = (float) Math.sqrt(d);
      for (int i = 0; i < x.length; i++) {
        x[i] *= normalizer;
      }
    }
    return x;
  }

  private static Norm finalNorm(ModelWeights m) {
    ModelConfig c = m.config();
    int d = c.dModel();
    if (isGpt2(c)) {
      return new Norm(NormKind.LAYER, read(m, "ln_f.weight", d), read(m, "ln_f.bias", d));
    }
    return rms(c, read(m, "model.norm.weight", d));
  }

  /** An RMSNorm of the model's kind from its stored weight (Gemma: gain 1 + w). */
  private static Norm rms(ModelConfig c, INDArray w) {
    if (c.norm() == NormKind.RMS_ONE_PLUS) {
      INDArray g = w.add(1f);
      w.close();
      return new Norm(NormKind.RMS_ONE_PLUS, g, null);
    }
    return new Norm(NormKind.RMS, w, null);
  }

  // ---- one block

  private static float[] block(ModelWeights m, int l, float[] x, int t, Recorder r) {
    ModelConfig c = m.config();
    int d = c.dModel();
    long[] td = {t, d};
    AttentionWeights a = m.readAttention(l);
    float[] attnOut;
    try {
      attnOut = attention(c, a, l, x, t, r);
    } finally {
      close(a.wQ(), a.wK(), a.wV(), a.wO(), a.bQ(), a.bK(), a.bV(), a.bO());
      close(a.inputNorm().gain(), a.inputNorm().bias());
      if (a.qNorm() != null) {
        close(a.qNorm().gain(), a.kNorm().gain());
      }
      if (a.postAttnNorm() != null) {
        close(a.postAttnNorm().gain());
      }
    }
    r.put(Hook.Point.ATTN_OUT, attnOut, td);
    float[] mid = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      mid[i] = x[i] + attnOut[i];
    }
    r.put(Hook.Point.RESID_MID, mid, td);
    float[] mlpOut = mlp(m, l, mid, t);
    r.put(Hook.Point.MLP_OUT, mlpOut, td);
    float[] post = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      post[i] = mid[i] + mlpOut[i];
    }
    r.put(Hook.Point.RESID_POST, post, td);
    return post;
  }

  private static float[] attention(
      ModelConfig c, AttentionWeights a, int l, float[] x, int t, Recorder r) {
    int d = c.dModel();
    int nh = c.nHeads();
    int nkv = c.nKvHeads();
    int dh = c.dHead();
    float[] h = norm(x, t, d, a.inputNorm(), c.normEps());
    float[] q = matmul(h, t, d, a.wQ(), a.bQ());
    float[] k = matmul(h, t, d, a.wK(), a.bK());
    float[] v = matmul(h, t, d, a.wV(), a.bV());
    if (a.qNorm() != null) {
      q = norm(q, t * nh, dh, a.qNorm(), c.normEps());
      k = norm(k, t * nkv, dh, a.kNorm(), c.normEps());
    }
    r.put(Hook.Point.Q, q, new long[] {t, nh, dh});
    r.put(Hook.Point.K, k, new long[] {t, nkv, dh});
    r.put(Hook.Point.V, v, new long[] {t, nkv, dh});
    if (c.ropeFor(l).present()) {
      double[] inv = c.ropeFor(l).invFreq(dh);
      rope(q, t, nh, dh, inv);
      rope(k, t, nkv, dh, inv);
    }
    r.put(Hook.Point.ROT_Q, q, new long[] {t, nh, dh});
    r.put(Hook.Point.ROT_K, k, new long[] {t, nkv, dh});
    int window = c.isSliding(l) ? c.slidingWindow() : 0;
    double cap = c.attnSoftcap();
    float scale = (float) c.queryScale();
    boolean keepScores = r.wants(Hook.Point.ATTN_SCORES);
    boolean keepPattern = r.wants(Hook.Point.PATTERN);
    float[] scores = keepScores ? new float[nh * t * t] : null;
    float[] pattern = keepPattern ? new float[nh * t * t] : null;
    float[] z = new float[t * nh * dh];
    // All heads in a handful of native ops (each op's threads are paid once, not per head): the
    // queries of the heads that share a KV head stacked as [n_kv, group·t, dh] (head-major, so the
    // scores come out as [heads, t, t]), a batched GEMM with the keys [n_kv, t, dh]ᵀ, the scale,
    // soft-cap, mask and row softmax as whole-array ops, a batched GEMM with the values.
    int group = nh / nkv;
    float[] qs = new float[nh * t * dh];
    for (int hd = 0; hd < nh; hd++) {
      for (int i = 0; i < t; i++) {
        System.arraycopy(q, (i * nh + hd) * dh, qs, (hd * t + i) * dh, dh);
      }
    }
    float[] ks = new float[nkv * t * dh];
    float[] vs = new float[nkv * t * dh];
    for (int kv = 0; kv < nkv; kv++) {
      for (int j = 0; j < t; j++) {
        System.arraycopy(k, (j * nkv + kv) * dh, ks, (kv * t + j) * dh, dh);
        System.arraycopy(v, (j * nkv + kv) * dh, vs, (kv * t + j) * dh, dh);
      }
    }
    float[] maskData = new float[t * t];
    for (int i = 0; i < t; i++) {
      for (int j = 0; j < t; j++) {
        if (j > i || (window > 0 && i - j >= window)) {
          maskData[i * t + j] = Float.NEGATIVE_INFINITY;
        }
      }
    }
    try (INDArray qa = Nd4j.create(qs, new long[] {nkv, group * t, dh}, 'c');
        INDArray ka = Nd4j.create(ks, new long[] {nkv, t, dh}, 'c');
        INDArray va = Nd4j.create(vs, new long[] {nkv, t, dh}, 'c');
        INDArray mask = Nd4j.create(maskData, new long[] {t, t}, 'c');
        INDArray s = Nd4j.matmul(qa, ka, false, true, false);
        INDArray s3 = s.reshape('c', nh, t, t)) {
      s3.muli(scale);
      if (cap > 0) {
        s3.divi(cap);
        Transforms.tanh(s3, false);
        s3.muli(cap);
      }
      Nd4j.exec(new BroadcastAddOp(s3, mask, s3, 1, 2));
      if (keepScores) {
        System.arraycopy(flat(s3), 0, scores, 0, nh * t * t);
      }
      try (INDArray p = Nd4j.exec((CustomOp) new SoftMax(s3, 2))[0];
          INDArray pg = p.reshape('c', nkv, group * t, t);
          INDArray zb = Nd4j.matmul(pg, va)) {
        if (keepPattern) {
          System.arraycopy(flat(p), 0, pattern, 0, nh * t * t);
        }
        float[] zf = flat(zb);
        for (int hd = 0; hd < nh; hd++) {
          for (int i = 0; i < t; i++) {
            System.arraycopy(zf, (hd * t + i) * dh, z, (i * nh + hd) * dh, dh);
          }
        }
      }
    }
    if (keepScores) {
      r.put(Hook.Point.ATTN_SCORES, scores, new long[] {nh, t, t});
    }
    if (keepPattern) {
      r.put(Hook.Point.PATTERN, pattern, new long[] {nh, t, t});
    }
    r.put(Hook.Point.Z, z, new long[] {t, nh, dh});
    float[] out = matmul(z, t, nh * dh, a.wO(), a.bO());
    if (a.postAttnNorm() != null) {
      out = norm(out, t, d, a.postAttnNorm(), c.normEps());
    }
    return out;
  }

  private static float[] mlp(ModelWeights m, int l, float[] x, int t) {
    ModelConfig c = m.config();
    int d = c.dModel();
    if (isGpt2(c)) {
      String p = "h." + l + ".";
      Norm ln =
          new Norm(NormKind.LAYER, read(m, p + "ln_2.weight", d), read(m, p + "ln_2.bias", d));
      INDArray fc = null;
      INDArray proj = null;
      INDArray fcB = null;
      INDArray projB = null;
      try {
        long ff = m.tensors().info(name(m, p + "mlp.c_fc.weight")).shape()[1];
        fc = read(m, p + "mlp.c_fc.weight", d, ff);
        fcB = read(m, p + "mlp.c_fc.bias", ff);
        proj = read(m, p + "mlp.c_proj.weight", ff, d);
        projB = read(m, p + "mlp.c_proj.bias", d);
        float[] h = norm(x, t, d, ln, c.normEps());
        float[] u = matmul(h, t, d, fc, fcB);
        for (int i = 0; i < u.length; i++) {
          u[i] = geluTanh(u[i]);
        }
        return matmul(u, t, (int) ff, proj, projB);
      } finally {
        close(fc, fcB, proj, projB, ln.gain(), ln.bias());
      }
    }
    String p = "model.layers." + l + ".";
    boolean gemma = isGemma(c);
    Norm pre =
        rms(
            c,
            read(
                m,
                p
                    + (gemma
                        ? "pre_feedforward_layernorm.weight"
                        : "post_attention_layernorm.weight"),
                d));
    Norm post = gemma ? rms(c, read(m, p + "post_feedforward_layernorm.weight", d)) : null;
    INDArray gate = null;
    INDArray up = null;
    INDArray down = null;
    INDArray gateB = null;
    INDArray upB = null;
    INDArray downB = null;
    try {
      long ff = m.tensors().info(name(m, p + "mlp.gate_proj.weight")).shape()[0];
      gate = read(m, p + "mlp.gate_proj.weight", ff, d);
      up = read(m, p + "mlp.up_proj.weight", ff, d);
      down = read(m, p + "mlp.down_proj.weight", d, ff);
      gateB = optional(m, p + "mlp.gate_proj.bias", ff);
      upB = optional(m, p + "mlp.up_proj.bias", ff);
      downB = optional(m, p + "mlp.down_proj.bias", d);
      float[] h = norm(x, t, d, pre, c.normEps());
      float[] g = matmulT(h, t, d, gate, gateB);
      float[] u = matmulT(h, t, d, up, upB);
      for (int i = 0; i < g.length; i++) {
        g[i] = (gemma ? geluTanh(g[i]) : silu(g[i])) * u[i];
      }
      float[] out = matmulT(g, t, (int) ff, down, downB);
      return post == null ? out : norm(out, t, d, post, c.normEps());
    } finally {
      close(gate, up, down, gateB, upB, downB, pre.gain());
      if (post != null) {
        close(post.gain());
      }
    }
  }

  // ---- arithmetic

  /** gelu_new / gelu_pytorch_tanh: {@code ½x(1 + tanh(√(2/π)(x + 0.044715x³)))}. */
  static float geluTanh(float xf) {
    double x = xf;
    return (float) (0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))));
  }

  /** SiLU: {@code x·σ(x)}. */
  static float silu(float xf) {
    double x = xf;
    return (float) (x / (1 + Math.exp(-x)));
  }

  /**
   * The norm of each of {@code n} rows of width {@code w}: LayerNorm {@code (x−μ)/√(var+ε)·g + b},
   * RMSNorm {@code x/√(mean(x²)+ε)·g} (the gain already {@code 1 + w} for Gemma).
   */
  static float[] norm(float[] x, int n, int w, Norm norm, double eps) {
    float[] g = norm.gain().toFloatVector();
    float[] b = norm.bias() == null ? null : norm.bias().toFloatVector();
    float[] y = new float[n * w];
    for (int r = 0; r < n; r++) {
      int o = r * w;
      double mean = 0;
      if (norm.kind() == NormKind.LAYER) {
        for (int i = 0; i < w; i++) {
          mean += x[o + i];
        }
        mean /= w;
      }
      double ss = 0;
      for (int i = 0; i < w; i++) {
        double e = x[o + i] - mean;
        ss += e * e;
      }
      double inv = 1 / Math.sqrt(ss / w + eps);
      for (int i = 0; i < w; i++) {
        double v = (x[o + i] - mean) * inv * g[i];
        y[o + i] = (float) (b == null ? v : v + b[i]);
      }
    }
    return y;
  }

  /**
   * Rotate-half RoPE in place on {@code [t, heads, dh]}: position p turns pair {@code (j, j +
   * dh/2)} by {@code p·invFreq[j]}.
   */
  static void rope(float[] x, int t, int heads, int dh, double[] invFreq) {
    int half = dh / 2;
    for (int p = 0; p < t; p++) {
      for (int j = 0; j < half; j++) {
        double ang = p * invFreq[j];
        double cos = Math.cos(ang);
        double sin = Math.sin(ang);
        for (int h = 0; h < heads; h++) {
          int o = (p * heads + h) * dh;
          double a = x[o + j];
          double b = x[o + j + half];
          x[o + j] = (float) (a * cos - b * sin);
          x[o + j + half] = (float) (b * cos + a * sin);
        }
      }
    }
  }

  /** {@code x [n, k] · w [k, m] (+ bias)}, row-major out. */
  private static float[] matmul(float[] x, int n, int k, INDArray w, INDArray bias) {
    try (INDArray xa = Nd4j.create(x, new long[] {n, k}, 'c');
        INDArray y = Nd4j.matmul(xa, w)) {
      if (bias != null) {
        y.addiRowVector(bias);
      }
      return flat(y);
    }
  }

  /** {@code x [n, k] · wᵀ} for a Hugging Face {@code [m, k]} Linear weight (+ bias). */
  private static float[] matmulT(float[] x, int n, int k, INDArray w, INDArray bias) {
    try (INDArray xa = Nd4j.create(x, new long[] {n, k}, 'c');
        INDArray y = Nd4j.matmul(xa, w, false, true, false)) {
      if (bias != null) {
        y.addiRowVector(bias);
      }
      return flat(y);
    }
  }

  private static float[] flat(INDArray a) {
    if (a.ordering() == 'c' && !a.isView() && a.data().length() == a.length()) {
      return a.data().asFloat();
    }
    try (INDArray c = a.dup('c')) {
      return c.data().asFloat();
    }
  }

  private static void close(INDArray... arrays) {
    for (INDArray a : arrays) {
      if (a != null && !a.wasClosed()) {
        a.close();
      }
    }
  }
}
