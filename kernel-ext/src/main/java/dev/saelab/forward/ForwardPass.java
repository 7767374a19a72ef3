package dev.saelab.forward;

import dev.saelab.io.Backend;
import dev.saelab.io.DType;
import dev.saelab.io.SaeLabException;
import dev.saelab.io.SafetensorsFile;
import dev.saelab.io.ShardedSafetensors;
import dev.saelab.io.TensorInfo;
import dev.saelab.io.TensorSource;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import dev.saelab.model.NormKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A forward pass over token ids, in float32, computing what Hugging Face transformers computes,
 * recording only the hooks asked for and stopping at the last layer they need.
 *
 * <p>Two ways to hold the weights. {@link #run}/{@link #runHooks} read each layer's weights when it
 * runs and free them after it (the embedding matrix is streamed: only the rows of the tokens are
 * kept), so a 2B model runs in a few GB. {@link #load} reads, casts and lays out every layer's
 * weights once into a {@link Session} that runs any number of prompts without reading them again (a
 * notebook's several prompts, a benchmark's repeats); it holds the layers' float32 weights (not the
 * embedding matrix, still read row by row), {@link #residentBytes} of them, checked before it
 * loads.
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
 *
 * <p>How it computes: one GEMM for the queries, keys and values of all heads (Hugging Face's
 * separate {@code q_proj}, {@code k_proj}, {@code v_proj} stacked into one {@code [W_Q; W_K; W_V]}
 * when read, GPT-2's {@code c_attn} as stored), one for the gate and up projections stacked, the
 * stored {@code [out, in]} Linear weights multiplied transposed (no copy); the attention of all
 * heads as two batched GEMMs around one pass per score row (scale, soft-cap, mask, softmax over the
 * visible keys only) on the native scores; elementwise work in plain float loops split over as many
 * threads as ND4J's ({@code OMP_NUM_THREADS}).
 */
public final class ForwardPass {
  private ForwardPass() {}

  /**
   * Runs {@code model} on {@code tokenIds} and records {@code hooks} (TransformerLens names, see
   * {@link Hook#parse}), reading each layer's weights as it runs.
   */
  public static Activations run(ModelWeights model, int[] tokenIds, Collection<String> hooks) {
    return runHooks(model, tokenIds, parse(hooks));
  }

  /** As {@link #run}, with parsed hooks. */
  public static Activations runHooks(ModelWeights model, int[] tokenIds, Collection<Hook> hooks) {
    try (Scratch sc = new Scratch()) {
      return forward(model, new Streamed(model), sc, tokenIds, hooks);
    }
  }

  private static List<Hook> parse(Collection<String> hooks) {
    List<Hook> parsed = new ArrayList<>();
    for (String h : hooks) {
      parsed.add(Hook.parse(h));
    }
    return parsed;
  }

  // ---- resident weights

  /**
   * Off-heap bytes a {@link Session} of {@code model} holds: every layer's float32 matrices and
   * biases (the norms' gains, a few KB, are on the Java heap; the embedding matrix is not kept).
   */
  public static long residentBytes(ModelWeights model) {
    long n = 0;
    for (int l = 0; l < model.config().nLayers(); l++) {
      n += layerElements(model, l);
    }
    return 4 * n;
  }

  /**
   * Reads, casts and lays out every layer's weights of {@code model} once, after checking that
   * {@link #residentBytes} fit what JavaCPP may still allocate (one-line error otherwise). The
   * session uses {@code model} for the embedding rows, so close the session before the model.
   */
  public static Session load(ModelWeights model) {
    Backend.init();
    long bytes = residentBytes(model);
    long budget = Pointer.maxBytes() - Pointer.totalBytes();
    if (bytes > budget) {
      throw new SaeLabException(
          "keeping the weights of "
              + model.config().nLayers()
              + " layers of "
              + model.tensors().path()
              + " needs about "
              + mib(bytes)
              + " MiB off-heap but only "
              + mib(budget)
              + " MiB is available (limit org.bytedeco.javacpp.maxbytes="
              + mib(Pointer.maxBytes())
              + " MiB); raise it with -Dorg.bytedeco.javacpp.maxbytes=... or run the forward"
              + " without a session (weights read per layer)");
    }
    return new Session(model, bytes);
  }

  private static long mib(long bytes) {
    return bytes >> 20;
  }

  /**
   * A model whose layer weights are read once and kept in float32 (off-heap), for repeated
   * forwards; close it to free them. It also keeps the last forward's work arrays (for GPT-2 small
   * at 1024 tokens about 0.1 GB, mostly the scores {@code [heads, t, t]}), reused by the next
   * prompt of the same length. Not for concurrent use from several threads.
   */
  public static final class Session implements AutoCloseable {
    private final ModelWeights model;
    private final Attn[] attn;
    private final Mlp[] mlp;
    private final Gains fin;
    private final long bytes;
    private final double loadSeconds;
    private final Scratch scratch = new Scratch();
    private boolean closed;

    private Session(ModelWeights model, long bytes) {
      long t0 = System.nanoTime();
      this.model = model;
      int n = model.config().nLayers();
      this.attn = new Attn[n];
      this.mlp = new Mlp[n];
      this.bytes = bytes;
      try {
        for (int l = 0; l < n; l++) {
          attn[l] = Attn.of(model, l);
          mlp[l] = Mlp.of(model, l);
        }
        this.fin = finalNorm(model);
      } catch (RuntimeException | Error e) {
        release();
        throw e;
      }
      this.loadSeconds = (System.nanoTime() - t0) / 1e9;
    }

    /** The model the weights came from. */
    public ModelWeights model() {
      return model;
    }

    /** Off-heap bytes of the kept weights ({@link ForwardPass#residentBytes}). */
    public long bytes() {
      return bytes;
    }

    /** Seconds the weights took to read, cast and lay out. */
    public double loadSeconds() {
      return loadSeconds;
    }

    /** As {@link ForwardPass#run}, with the kept weights. */
    public Activations run(int[] tokenIds, Collection<String> hooks) {
      return runHooks(tokenIds, parse(hooks));
    }

    /** As {@link ForwardPass#runHooks}, with the kept weights. */
    public Activations runHooks(int[] tokenIds, Collection<Hook> hooks) {
      if (closed) {
        throw new IllegalStateException("forward session of " + model.tensors().path() + " closed");
      }
      return forward(
          model,
          new Weights() {
            @Override
            public Attn attn(int l) {
              return attn[l];
            }

            @Override
            public Mlp mlp(int l) {
              return mlp[l];
            }

            @Override
            public Gains finalNorm() {
              return fin;
            }

            @Override
            public void done(AutoCloseable part) {}
          },
          scratch,
          tokenIds,
          hooks);
    }

    private void release() {
      for (Attn a : attn) {
        if (a != null) {
          a.close();
        }
      }
      for (Mlp m : mlp) {
        if (m != null) {
          m.close();
        }
      }
    }

    /** Frees the kept weights (the model stays open). */
    @Override
    public void close() {
      if (!closed) {
        closed = true;
        release();
        scratch.close();
      }
    }
  }

  /** Where a forward gets each layer's weights, and what it does with them after. */
  private interface Weights {
    Attn attn(int l);

    Mlp mlp(int l);

    Gains finalNorm();

    /** Called when a layer's part has been used. */
    void done(AutoCloseable part);
  }

  /** Reads each part when asked and frees it after. */
  private record Streamed(ModelWeights m) implements Weights {
    @Override
    public Attn attn(int l) {
      return Attn.of(m, l);
    }

    @Override
    public Mlp mlp(int l) {
      return Mlp.of(m, l);
    }

    @Override
    public Gains finalNorm() {
      return ForwardPass.finalNorm(m);
    }

    @Override
    public void done(AutoCloseable part) {
      try {
        part.close();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
  }

  // ---- the forward

  private static Activations forward(
      ModelWeights model, Weights ws, Scratch sc, int[] tokenIds, Collection<Hook> hooks) {
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
      x = block(c, ws, sc, l, x, t, r);
    }
    if (asked.contains(Hook.FINAL_NORM)) {
      Gains fin = ws.finalNorm();
      rec.put(
          Hook.FINAL_NORM, Nd4j.create(norm(x, t, d, fin, c.normEps()), new long[] {t, d}, 'c'));
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

  private static boolean has(ModelWeights m, String name) {
    return m.storedName(name).isPresent();
  }

  /** The stored tensor of {@code name}, checked against {@code shape}. */
  private static TensorInfo checked(ModelWeights m, String name, long... shape) {
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
    return t;
  }

  /** A tensor read into a new float32 array of its shape. */
  private static INDArray read(ModelWeights m, String name, long... shape) {
    TensorInfo info = checked(m, name, shape);
    INDArray out = Nd4j.createUninitialized(DataType.FLOAT, shape, 'c');
    try {
      readInto(m, info, out, 0);
      return out;
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  /**
   * Reads tensor {@code info} into {@code dst} from element {@code at} on. Safetensors F32 and BF16
   * tensors are read with positional reads (F32 bytes straight into the array), not mapped, so the
   * file's pages do not count in this process's memory on top of the float32 copy; other formats
   * and dtypes through {@link TensorSource#read}.
   */
  private static void readInto(ModelWeights m, TensorInfo info, INDArray dst, long at) {
    TensorSource src = m.tensors();
    long n = info.numel();
    Path file = null;
    long begin = 0;
    if (src instanceof SafetensorsFile f) {
      file = f.path();
      begin = f.fileRange(info.name())[0];
    } else if (src instanceof ShardedSafetensors sh) {
      file = sh.path().resolveSibling(sh.shardOf(info.name()));
      try (SafetensorsFile f = SafetensorsFile.open(file)) {
        begin = f.fileRange(info.name())[0];
      }
    }
    DType dt = info.dtype();
    if (file == null
        || (dt != DType.F32 && dt != DType.BF16)
        || (at + n) * 4 > Integer.MAX_VALUE - 8) {
      FloatPointer p = new FloatPointer(dst.data().addressPointer());
      src.read(
          info.name(), (offset, values, count) -> p.position(at + offset).put(values, 0, count));
      return;
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      if (dt == DType.F32) {
        ByteBuffer b = dst.data().asNio();
        b.limit((int) ((at + n) * 4)).position((int) (at * 4));
        readFully(ch, b, begin, file, info);
        return;
      }
      FloatBuffer out = dst.data().asNioFloat();
      int chunk = (int) Math.min(n, 1 << 20);
      ByteBuffer tmp = ByteBuffer.allocateDirect(chunk * 2).order(ByteOrder.LITTLE_ENDIAN);
      float[] f = new float[chunk];
      for (long done = 0; done < n; done += chunk) {
        int c = (int) Math.min(n - done, chunk);
        tmp.clear().limit(c * 2);
        readFully(ch, tmp, begin + done * 2, file, info);
        for (int i = 0; i < c; i++) {
          f[i] = Float.intBitsToFloat((tmp.getShort(i * 2) & 0xFFFF) << 16);
        }
        out.put((int) (at + done), f, 0, c);
      }
    } catch (IOException e) {
      throw SaeLabException.inTensor(file, info.name(), "read failed: " + e.getMessage());
    }
  }

  private static void readFully(
      FileChannel ch, ByteBuffer b, long position, Path file, TensorInfo info) throws IOException {
    long pos = position;
    while (b.hasRemaining()) {
      int r = ch.read(b, pos);
      if (r < 0) {
        throw SaeLabException.inTensor(file, info.name(), "file ends inside the tensor's data");
      }
      pos += r;
    }
  }

  /**
   * Tensors stacked along their first axis into one new float32 array {@code [Σ rows, cols]}, each
   * read straight into its place; a null name leaves its rows zero (an absent bias).
   */
  private static INDArray stacked(ModelWeights m, String[] names, long[] rows, long cols) {
    long total = 0;
    for (long r : rows) {
      total += r;
    }
    long[] shape = cols > 0 ? new long[] {total, cols} : new long[] {total};
    INDArray out = Nd4j.create(DataType.FLOAT, shape, 'c');
    try {
      long at = 0;
      for (int i = 0; i < names.length; i++) {
        if (names[i] != null) {
          TensorInfo info =
              cols > 0 ? checked(m, names[i], rows[i], cols) : checked(m, names[i], rows[i]);
          readInto(m, info, out, at);
        }
        at += rows[i] * Math.max(cols, 1);
      }
      return out;
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  /** A norm weight as the gain the forward multiplies by (Gemma's stored w as 1 + w). */
  private static float[] gain(ModelWeights m, NormKind kind, String name, int width) {
    checked(m, name, width);
    float[] g = m.tensors().readFloats(name(m, name));
    if (kind == NormKind.RMS_ONE_PLUS) {
      for (int i = 0; i < g.length; i++) {
        g[i] += 1f;
      }
    }
    return g;
  }

  /** A norm: its kind, gain and (LayerNorm) bias, on the Java heap. */
  record Gains(NormKind kind, float[] g, float[] b) {}

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

  private static Gains finalNorm(ModelWeights m) {
    ModelConfig c = m.config();
    int d = c.dModel();
    if (isGpt2(c)) {
      return new Gains(
          NormKind.LAYER, gain(m, NormKind.LAYER, "ln_f.weight", d), gain(m, null, "ln_f.bias", d));
    }
    return new Gains(c.norm(), gain(m, c.norm(), "model.norm.weight", d), null);
  }

  /** MLP width: GPT-2's {@code c_fc} columns, else {@code gate_proj} rows. */
  private static long mlpWidth(ModelWeights m, int l) {
    if (isGpt2(m.config())) {
      return m.tensors().info(name(m, "h." + l + ".mlp.c_fc.weight")).shape()[1];
    }
    return m.tensors().info(name(m, "model.layers." + l + ".mlp.gate_proj.weight")).shape()[0];
  }

  /** Float32 elements of layer {@code l}'s matrices and biases as {@link Attn}/{@link Mlp} hold. */
  private static long layerElements(ModelWeights m, int l) {
    ModelConfig c = m.config();
    long d = c.dModel();
    long hq = (long) c.nHeads() * c.dHead();
    long hk = (long) c.nKvHeads() * c.dHead();
    long ff = mlpWidth(m, l);
    if (isGpt2(c)) {
      return d * 3 * d + 3 * d + d * d + d + d * ff + ff + ff * d + d;
    }
    String p = "model.layers." + l + ".";
    long n = d * (hq + 2 * hk) + hq * d + 3 * d * ff;
    if (has(m, p + "self_attn.q_proj.bias")
        || has(m, p + "self_attn.k_proj.bias")
        || has(m, p + "self_attn.v_proj.bias")) {
      n += hq + 2 * hk;
    }
    if (has(m, p + "self_attn.o_proj.bias")) {
      n += d;
    }
    if (has(m, p + "mlp.gate_proj.bias") || has(m, p + "mlp.up_proj.bias")) {
      n += 2 * ff;
    }
    if (has(m, p + "mlp.down_proj.bias")) {
      n += d;
    }
    return n;
  }

  /**
   * One layer's attention weights as the forward uses them: {@code qkv} is GPT-2's {@code c_attn
   * [d, 3d]} ({@code x·W}) or the stacked {@code [W_Q; W_K; W_V]} of Linear weights {@code [hq +
   * 2hk, d]} ({@code x·Wᵀ}, {@code transposed}); {@code o} likewise {@code c_proj [d, d]} or {@code
   * o_proj [d, hq]}.
   */
  private record Attn(
      Gains in,
      INDArray qkv,
      INDArray bQkv,
      INDArray o,
      INDArray bO,
      boolean transposed,
      Gains qNorm,
      Gains kNorm,
      Gains post)
      implements AutoCloseable {

    static Attn of(ModelWeights m, int l) {
      ModelConfig c = m.config();
      int d = c.dModel();
      int hq = c.nHeads() * c.dHead();
      int hk = c.nKvHeads() * c.dHead();
      List<INDArray> got = new ArrayList<>();
      try {
        if (isGpt2(c)) {
          String p = "h." + l + ".";
          Gains in =
              new Gains(
                  NormKind.LAYER,
                  gain(m, NormKind.LAYER, p + "ln_1.weight", d),
                  gain(m, null, p + "ln_1.bias", d));
          INDArray qkv = keep(got, read(m, p + "attn.c_attn.weight", d, 3L * d));
          INDArray bQkv = keep(got, read(m, p + "attn.c_attn.bias", 3L * d));
          INDArray o = keep(got, read(m, p + "attn.c_proj.weight", d, d));
          INDArray bO = keep(got, read(m, p + "attn.c_proj.bias", d));
          return new Attn(in, qkv, bQkv, o, bO, false, null, null, null);
        }
        String p = "model.layers." + l + ".";
        String a = p + "self_attn.";
        INDArray qkv =
            keep(
                got,
                stacked(
                    m,
                    new String[] {a + "q_proj.weight", a + "k_proj.weight", a + "v_proj.weight"},
                    new long[] {hq, hk, hk},
                    d));
        INDArray bQkv = null;
        String[] biases = {a + "q_proj.bias", a + "k_proj.bias", a + "v_proj.bias"};
        boolean anyBias = false;
        for (int i = 0; i < 3; i++) {
          if (has(m, biases[i])) {
            anyBias = true;
          } else {
            biases[i] = null;
          }
        }
        if (anyBias) {
          bQkv = keep(got, stacked(m, biases, new long[] {hq, hk, hk}, 0));
        }
        INDArray o = keep(got, read(m, a + "o_proj.weight", d, hq));
        INDArray bO = has(m, a + "o_proj.bias") ? keep(got, read(m, a + "o_proj.bias", d)) : null;
        Gains in = new Gains(c.norm(), gain(m, c.norm(), p + "input_layernorm.weight", d), null);
        Gains qNorm = null;
        Gains kNorm = null;
        if (c.qkNorm() != null) {
          int dh = c.dHead();
          if (!has(m, a + "q_norm.weight")) {
            throw SaeLabException.inFile(
                m.tensors().path(),
                "missing tensor '"
                    + a
                    + "q_norm.weight' (expected shape ["
                    + dh
                    + "]): a "
                    + c.modelType()
                    + " config normalises queries and keys per head");
          }
          qNorm = new Gains(c.qkNorm(), gain(m, c.qkNorm(), a + "q_norm.weight", dh), null);
          kNorm = new Gains(c.qkNorm(), gain(m, c.qkNorm(), a + "k_norm.weight", dh), null);
        }
        Gains post =
            c.norm() == NormKind.RMS_ONE_PLUS
                ? new Gains(
                    c.norm(), gain(m, c.norm(), p + "post_attention_layernorm.weight", d), null)
                : null;
        return new Attn(in, qkv, bQkv, o, bO, true, qNorm, kNorm, post);
      } catch (RuntimeException e) {
        got.forEach(ForwardPass::close);
        throw e;
      }
    }

    @Override
    public void close() {
      ForwardPass.close(qkv, bQkv, o, bO);
    }
  }

  /**
   * One layer's MLP weights: GPT-2's {@code c_fc [d, ff]} and {@code c_proj [ff, d]} ({@code x·W}),
   * or the stacked {@code [gate; up]} {@code [2ff, d]} and {@code down [d, ff]} Linear weights
   * ({@code x·Wᵀ}, gated).
   */
  private record Mlp(
      Gains pre,
      Gains post,
      INDArray up,
      INDArray bUp,
      INDArray down,
      INDArray bDown,
      int ff,
      boolean gated,
      boolean gelu)
      implements AutoCloseable {

    static Mlp of(ModelWeights m, int l) {
      ModelConfig c = m.config();
      int d = c.dModel();
      List<INDArray> got = new ArrayList<>();
      try {
        long ff = mlpWidth(m, l);
        if (isGpt2(c)) {
          String p = "h." + l + ".";
          Gains ln =
              new Gains(
                  NormKind.LAYER,
                  gain(m, NormKind.LAYER, p + "ln_2.weight", d),
                  gain(m, null, p + "ln_2.bias", d));
          INDArray fc = keep(got, read(m, p + "mlp.c_fc.weight", d, ff));
          INDArray fcB = keep(got, read(m, p + "mlp.c_fc.bias", ff));
          INDArray proj = keep(got, read(m, p + "mlp.c_proj.weight", ff, d));
          INDArray projB = keep(got, read(m, p + "mlp.c_proj.bias", d));
          return new Mlp(ln, null, fc, fcB, proj, projB, (int) ff, false, true);
        }
        String p = "model.layers." + l + ".";
        boolean gemma = isGemma(c);
        Gains pre =
            new Gains(
                c.norm(),
                gain(
                    m,
                    c.norm(),
                    p
                        + (gemma
                            ? "pre_feedforward_layernorm.weight"
                            : "post_attention_layernorm.weight"),
                    d),
                null);
        Gains post =
            gemma
                ? new Gains(
                    c.norm(), gain(m, c.norm(), p + "post_feedforward_layernorm.weight", d), null)
                : null;
        INDArray gu =
            keep(
                got,
                stacked(
                    m,
                    new String[] {p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"},
                    new long[] {ff, ff},
                    d));
        INDArray guB = null;
        String[] biases = {p + "mlp.gate_proj.bias", p + "mlp.up_proj.bias"};
        boolean anyBias = false;
        for (int i = 0; i < 2; i++) {
          if (has(m, biases[i])) {
            anyBias = true;
          } else {
            biases[i] = null;
          }
        }
        if (anyBias) {
          guB = keep(got, stacked(m, biases, new long[] {ff, ff}, 0));
        }
        INDArray down = keep(got, read(m, p + "mlp.down_proj.weight", d, ff));
        INDArray downB =
            has(m, p + "mlp.down_proj.bias")
                ? keep(got, read(m, p + "mlp.down_proj.bias", d))
                : null;
        return new Mlp(pre, post, gu, guB, down, downB, (int) ff, true, gemma);
      } catch (RuntimeException e) {
        got.forEach(ForwardPass::close);
        throw e;
      }
    }

    @Override
    public void close() {
      ForwardPass.close(up, bUp, down, bDown);
    }
  }

  private static INDArray keep(List<INDArray> got, INDArray a) {
    got.add(a);
    return a;
  }

  // ---- one block

  /**
   * Work arrays of a forward, by role, reused from layer to layer (and, in a {@link Session}, from
   * prompt to prompt of the same length), so that a forward allocates little: native arrays for the
   * GEMM operands and results, Java arrays for the rest.
   */
  static final class Scratch implements AutoCloseable {
    private final Map<String, INDArray> arrays = new java.util.HashMap<>();
    private final Map<String, float[]> floats = new java.util.HashMap<>();

    /** The native float32 array of {@code key}, of {@code shape} (contents undefined). */
    INDArray array(String key, long... shape) {
      INDArray a = arrays.get(key);
      if (a != null && Arrays.equals(a.shape(), shape)) {
        return a;
      }
      if (a != null) {
        a.close();
      }
      a = Nd4j.createUninitialized(DataType.FLOAT, shape, 'c');
      arrays.put(key, a);
      return a;
    }

    /** The native array of {@code key} holding {@code data} as {@code shape}. */
    INDArray array(String key, float[] data, long... shape) {
      INDArray a = array(key, shape);
      a.data().asNioFloat().put(0, data, 0, (int) a.length());
      return a;
    }

    /** The Java array of {@code key}, of length {@code n} (contents undefined). */
    float[] floats(String key, int n) {
      float[] f = floats.get(key);
      if (f == null || f.length != n) {
        f = new float[n];
        floats.put(key, f);
      }
      return f;
    }

    /** {@code a}'s elements (C order) in the Java array of {@code key}. */
    float[] floats(String key, INDArray a) {
      float[] f = floats(key, (int) a.length());
      a.data().asNioFloat().get(0, f, 0, f.length);
      return f;
    }

    @Override
    public void close() {
      arrays.values().forEach(ForwardPass::close);
      arrays.clear();
      floats.clear();
    }
  }

  private static float[] block(
      ModelConfig c, Weights ws, Scratch sc, int l, float[] x, int t, Recorder r) {
    int d = c.dModel();
    long[] td = {t, d};
    Attn a = ws.attn(l);
    float[] attnOut;
    try {
      attnOut = attention(c, a, sc, l, x, t, r);
    } finally {
      ws.done(a);
    }
    r.put(Hook.Point.ATTN_OUT, attnOut, td);
    float[] mid = sc.floats("mid", x.length);
    for (int i = 0; i < x.length; i++) {
      mid[i] = x[i] + attnOut[i];
    }
    r.put(Hook.Point.RESID_MID, mid, td);
    Mlp w = ws.mlp(l);
    float[] mlpOut;
    try {
      mlpOut = mlp(c, w, sc, mid, t);
    } finally {
      ws.done(w);
    }
    r.put(Hook.Point.MLP_OUT, mlpOut, td);
    // the residual alternates between two arrays: this layer's input is the other one
    float[] post = sc.floats(l % 2 == 0 ? "x0" : "x1", x.length);
    for (int i = 0; i < x.length; i++) {
      post[i] = mid[i] + mlpOut[i];
    }
    r.put(Hook.Point.RESID_POST, post, td);
    return post;
  }

  private static float[] attention(
      ModelConfig c, Attn a, Scratch sc, int l, float[] x, int t, Recorder r) {
    int d = c.dModel();
    int nh = c.nHeads();
    int nkv = c.nKvHeads();
    int dh = c.dHead();
    int hq = nh * dh;
    int hk = nkv * dh;
    int width = hq + 2 * hk;
    float[] h = norm(x, t, d, a.in(), c.normEps(), sc.floats("h", t * d));
    INDArray y = gemm(sc.array("h", h, t, d), a.qkv(), a.transposed(), a.bQkv(), sc, "qkv");
    float[] qkv = sc.floats("qkv", y);
    float[] q = sc.floats("q", t * hq);
    float[] k = sc.floats("k", t * hk);
    float[] v = sc.floats("v", t * hk);
    for (int i = 0; i < t; i++) {
      System.arraycopy(qkv, i * width, q, i * hq, hq);
      System.arraycopy(qkv, i * width + hq, k, i * hk, hk);
      System.arraycopy(qkv, i * width + hq + hk, v, i * hk, hk);
    }
    if (a.qNorm() != null) {
      q = norm(q, t * nh, dh, a.qNorm(), c.normEps(), sc.floats("qn", t * hq));
      k = norm(k, t * nkv, dh, a.kNorm(), c.normEps(), sc.floats("kn", t * hk));
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
    boolean keepScores = r.wants(Hook.Point.ATTN_SCORES);
    boolean keepPattern = r.wants(Hook.Point.PATTERN);
    float[] scores = keepScores ? new float[nh * t * t] : null;
    float[] pattern = keepPattern ? new float[nh * t * t] : null;
    // All heads in two batched GEMMs (each native op's threads are paid once, not per head): the
    // queries of the heads that share a KV head stacked as [n_kv, group·t, dh] (head-major, so the
    // scores come out as [heads, t, t]) times the keys [n_kv, t, dh]ᵀ; then one pass per score row
    // on the native scores (scale, soft-cap, mask, softmax over the visible keys); then the
    // probabilities times the values.
    int group = nh / nkv;
    float[] qs = sc.floats("qs", nh * t * dh);
    for (int hd = 0; hd < nh; hd++) {
      for (int i = 0; i < t; i++) {
        System.arraycopy(q, (i * nh + hd) * dh, qs, (hd * t + i) * dh, dh);
      }
    }
    float[] ks = sc.floats("ks", nkv * t * dh);
    float[] vs = sc.floats("vs", nkv * t * dh);
    for (int kv = 0; kv < nkv; kv++) {
      for (int j = 0; j < t; j++) {
        System.arraycopy(k, (j * nkv + kv) * dh, ks, (kv * t + j) * dh, dh);
        System.arraycopy(v, (j * nkv + kv) * dh, vs, (kv * t + j) * dh, dh);
      }
    }
    INDArray qa = sc.array("qa", qs, nkv, (long) group * t, dh);
    INDArray ka = sc.array("ka", ks, nkv, t, dh);
    INDArray va = sc.array("va", vs, nkv, t, dh);
    INDArray s = sc.array("scores", nkv, (long) group * t, t);
    Nd4j.matmul(qa, ka, s, false, true, false);
    softmaxRows(
        s.data().asNioFloat(),
        nh,
        t,
        window,
        (float) c.queryScale(),
        c.attnSoftcap(),
        scores,
        pattern);
    INDArray zb = sc.array("zb", nkv, (long) group * t, dh);
    Nd4j.matmul(s, va, zb, false, false, false);
    float[] zf = sc.floats("zb", zb);
    float[] z = sc.floats("z", t * hq);
    for (int hd = 0; hd < nh; hd++) {
      for (int i = 0; i < t; i++) {
        System.arraycopy(zf, (hd * t + i) * dh, z, (i * nh + hd) * dh, dh);
      }
    }
    if (keepScores) {
      r.put(Hook.Point.ATTN_SCORES, scores, new long[] {nh, t, t});
    }
    if (keepPattern) {
      r.put(Hook.Point.PATTERN, pattern, new long[] {nh, t, t});
    }
    r.put(Hook.Point.Z, z, new long[] {t, nh, dh});
    INDArray o = gemm(sc.array("z", z, t, hq), a.o(), a.transposed(), a.bO(), sc, "out");
    float[] out = sc.floats("attn_out", o);
    if (a.post() != null) {
      out = norm(out, t, d, a.post(), c.normEps(), sc.floats("attn_out_normed", t * d));
    }
    return out;
  }

  /**
   * In place on the raw scores {@code [heads, t, t]} (row {@code i} of a head: query position
   * {@code i}): each visible score ({@code j ≤ i}, and {@code i − j < window} when there is one)
   * scaled in float32, soft-capped {@code tanh(s/cap)·cap} when {@code cap > 0}, then the row's
   * softmax over the visible keys (exponentials and sum in double); hidden keys get probability 0.
   * The scaled scores ({@code −∞} where hidden) and the probabilities are copied out when asked.
   */
  static void softmaxRows(
      FloatBuffer s,
      int heads,
      int t,
      int window,
      float scale,
      double cap,
      float[] scores,
      float[] pattern) {
    float capF = (float) cap;
    parallel(
        heads * t,
        (long) t * 8,
        (from, to) -> {
          float[] row = new float[t];
          double[] e = new double[t];
          for (int r = from; r < to; r++) {
            int i = r % t;
            int lo = window > 0 ? Math.max(0, i - window + 1) : 0;
            int n = i - lo + 1;
            long base = (long) r * t;
            s.get((int) (base + lo), row, lo, n);
            float max = Float.NEGATIVE_INFINITY;
            for (int j = lo; j <= i; j++) {
              float x = row[j] * scale;
              if (cap > 0) {
                x = (float) tanh(x / capF) * capF;
              }
              row[j] = x;
              max = Math.max(max, x);
            }
            if (scores != null) {
              Arrays.fill(scores, (int) base, (int) base + lo, Float.NEGATIVE_INFINITY);
              System.arraycopy(row, lo, scores, (int) base + lo, n);
              Arrays.fill(scores, (int) base + i + 1, (int) base + t, Float.NEGATIVE_INFINITY);
            }
            double sum = 0;
            for (int j = lo; j <= i; j++) {
              double x = Math.exp(row[j] - max);
              e[j] = x;
              sum += x;
            }
            Arrays.fill(row, 0f);
            for (int j = lo; j <= i; j++) {
              row[j] = (float) (e[j] / sum);
            }
            s.put((int) base, row, 0, t);
            if (pattern != null) {
              System.arraycopy(row, 0, pattern, (int) base, t);
            }
          }
        });
  }

  private static float[] mlp(ModelConfig c, Mlp w, Scratch sc, float[] x, int t) {
    int d = c.dModel();
    int ff = w.ff();
    float[] h = norm(x, t, d, w.pre(), c.normEps(), sc.floats("h", t * d));
    INDArray u = gemm(sc.array("h", h, t, d), w.up(), w.gated(), w.bUp(), sc, "mlp_in");
    INDArray act;
    if (!w.gated()) {
      act = u;
      FloatBuffer ub = u.data().asNioFloat();
      parallel(
          t,
          ff * 20L,
          (from, to) -> {
            float[] row = new float[ff];
            for (int i = from; i < to; i++) {
              ub.get(i * ff, row, 0, ff);
              for (int j = 0; j < ff; j++) {
                row[j] = geluTanh(row[j]);
              }
              ub.put(i * ff, row, 0, ff);
            }
          });
    } else {
      boolean gelu = w.gelu();
      act = sc.array("mlp_act", t, ff);
      FloatBuffer gu = u.data().asNioFloat();
      FloatBuffer ab = act.data().asNioFloat();
      parallel(
          t,
          ff * 20L,
          (from, to) -> {
            float[] g = new float[ff];
            float[] up = new float[ff];
            for (int i = from; i < to; i++) {
              gu.get(2 * i * ff, g, 0, ff);
              gu.get(2 * i * ff + ff, up, 0, ff);
              for (int j = 0; j < ff; j++) {
                g[j] = (gelu ? geluTanh(g[j]) : silu(g[j])) * up[j];
              }
              ab.put(i * ff, g, 0, ff);
            }
          });
    }
    float[] out = sc.floats("mlp_out", gemm(act, w.down(), w.gated(), w.bDown(), sc, "out"));
    return w.post() == null
        ? out
        : norm(out, t, d, w.post(), c.normEps(), sc.floats("mlp_out_normed", t * d));
  }

  // ---- arithmetic

  /**
   * gelu_new / gelu_pytorch_tanh: {@code ½x(1 + tanh(u))}, {@code u = √(2/π)(x + 0.044715x³)},
   * computed in double as the equal {@code x / (1 + e^(−2u))} (one exponential).
   */
  static float geluTanh(float xf) {
    double x = xf;
    double u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
    return (float) (x / (1 + Math.exp(-2 * u)));
  }

  private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

  /** SiLU: {@code x·σ(x)}. */
  static float silu(float xf) {
    double x = xf;
    return (float) (x / (1 + Math.exp(-x)));
  }

  /** {@code tanh(y)} in double from one exponential: {@code (e^(2y) − 1)/(e^(2y) + 1)}. */
  static double tanh(double y) {
    if (y > 20) {
      return 1;
    }
    if (y < -20) {
      return -1;
    }
    if (Math.abs(y) < 1e-3) {
      double y2 = y * y; // Taylor: the exponential form would cancel here
      return y * (1 - y2 / 3 * (1 - 0.4 * y2));
    }
    double e = Math.exp(2 * y);
    return (e - 1) / (e + 1);
  }

  /**
   * The norm of each of {@code n} rows of width {@code w}: LayerNorm {@code (x−μ)/√(var+ε)·g + b},
   * RMSNorm {@code x/√(mean(x²)+ε)·g} (the gain already {@code 1 + w} for Gemma).
   */
  static float[] norm(float[] x, int n, int w, Gains norm, double eps) {
    return norm(x, n, w, norm, eps, new float[n * w]);
  }

  /** As {@link #norm(float[], int, int, Gains, double)}, into {@code y} (returned). */
  static float[] norm(float[] x, int n, int w, Gains norm, double eps, float[] y) {
    float[] g = norm.g();
    float[] b = norm.b();
    boolean layer = norm.kind() == NormKind.LAYER;
    parallel(
        n,
        w * 4L,
        (from, to) -> {
          for (int r = from; r < to; r++) {
            int o = r * w;
            double mean = 0;
            if (layer) {
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
        });
    return y;
  }

  /**
   * Rotate-half RoPE in place on {@code [t, heads, dh]}: position p turns pair {@code (j, j +
   * dh/2)} by {@code p·invFreq[j]}.
   */
  static void rope(float[] x, int t, int heads, int dh, double[] invFreq) {
    int half = dh / 2;
    parallel(
        t,
        (long) heads * dh * 4,
        (from, to) -> {
          for (int p = from; p < to; p++) {
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
        });
  }

  /**
   * {@code x [n, k] · w [k, m]}, or {@code x · wᵀ} for a Hugging Face {@code [m, k]} Linear weight
   * when {@code transposed}, plus {@code bias} when given, into the scratch array {@code key}.
   */
  private static INDArray gemm(
      INDArray x, INDArray w, boolean transposed, INDArray bias, Scratch sc, String key) {
    INDArray y = sc.array(key, x.size(0), transposed ? w.size(0) : w.size(1));
    Nd4j.matmul(x, w, y, false, transposed, false);
    if (bias != null) {
      y.addiRowVector(bias);
    }
    return y;
  }

  private static void close(INDArray... arrays) {
    for (INDArray a : arrays) {
      if (a != null && !a.wasClosed()) {
        a.close();
      }
    }
  }

  // ---- threads

  /** Work on rows {@code [from, to)}. */
  private interface Rows {
    void run(int from, int to);
  }

  private static volatile ForkJoinPool pool;

  /** Work (rows × cost) below which a loop stays on the calling thread; tests lower it. */
  static volatile long parallelMinWork = 1 << 16;

  /** The Java loops' threads when positive (tests); otherwise ND4J's. */
  static volatile int threadsOverride;

  /**
   * As many threads as ND4J's native ops use ({@code OMP_NUM_THREADS}, else the processors), so
   * both sides of the forward run on the same number.
   */
  static int threads() {
    int o = threadsOverride;
    return o > 0 ? o : Math.max(1, Nd4j.getEnvironment().maxThreads());
  }

  private static ForkJoinPool pool(int threads) {
    ForkJoinPool p = pool;
    if (p == null || p.getParallelism() != threads) {
      synchronized (ForwardPass.class) {
        p = pool;
        if (p == null || p.getParallelism() != threads) {
          p = new ForkJoinPool(threads);
          pool = p;
        }
      }
    }
    return p;
  }

  /**
   * Runs {@code body} over rows {@code [0, n)} split into blocks over {@link #threads()} threads,
   * or on this thread when the work ({@code n · costPerRow}) is small.
   */
  private static void parallel(int n, long costPerRow, Rows body) {
    int threads = threads();
    if (threads <= 1 || n < 2 || n * costPerRow < parallelMinWork) {
      body.run(0, n);
      return;
    }
    int blocks = Math.min(n, threads * 4);
    pool(threads)
        .submit(
            () ->
                IntStream.range(0, blocks)
                    .parallel()
                    .forEach(b -> body.run(b * n / blocks, (b + 1) * n / blocks)))
        .join();
  }
}
