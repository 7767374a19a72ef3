package dev.saelab.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saelab.forward.Activations;
import dev.saelab.forward.ForwardPass;
import dev.saelab.forward.Hook;
import dev.saelab.io.Backend;
import dev.saelab.model.ModelWeights;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code saelab bench forward}: the forward pass's tokens per second and peak RSS on a synthetic
 * GPT-2-small- or Gemma-2-2B-shaped checkpoint (config.json + model.safetensors, random weights),
 * against an independent PyTorch implementation ({@code forward_peer.py}, plain torch ops) of the
 * same forward on the same file, each in its own process on the same number of threads.
 */
@Command(
    name = "forward",
    description =
        "The forward pass (embeddings to the final norm's output, ln_final.hook_normalized) on a"
            + " synthetic checkpoint of --shape written as a real Hugging Face folder (config.json"
            + " + model.safetensors, random weights) to a temporary folder: SAE Lab (a child JVM"
            + " with the layer weights loaded once before the timed forwards, as a forward"
            + " session keeps them; and, unless --no-streaming, another child reading each layer's"
            + " weights inside every forward) against PyTorch (Debian's python3-torch, an"
            + " independent implementation with plain torch ops that holds every weight in"
            + " float32, as from_pretrained does, loaded before its timed forwards) on the same"
            + " file, tokens and threads, each in its own process; time per forward (median over"
            + " --repeat rounds; the first SAE Lab round pays the JIT's warm-up), load times,"
            + " tokens per second, peak RSS (VmHWM) and their ratios; the outputs compared. With"
            + " --layers below the shape's, the full model's time is extrapolated per layer and"
            + " said so.",
    footer = {
      "",
      "Examples:",
      "  saelab bench forward --shape tiny-gpt2 --tokens 8 --repeat 1 --no-torch",
      "  saelab bench forward --shape tiny-gemma2 --tokens 8,16 --repeat 1 --no-torch",
      "  (GPT-2 small and Gemma 2 2B at 128 and 1024 tokens: kernel-ext/docs/performance.md)"
    })
public final class BenchForward extends CliCommand {
  @Option(
      names = "--shape",
      paramLabel = "gpt2-small|gemma-2-2b|tiny-gpt2|tiny-gemma2",
      defaultValue = "gpt2-small",
      converter = ShapeConverter.class,
      description =
          "the model's shape (default ${DEFAULT-VALUE}): gpt2-small 12 layers, d_model 768, 12"
              + " heads, MLP 3072, vocab 50257; gemma-2-2b 26 layers, d_model 2304, 8 heads, 4 KV"
              + " heads, d_head 256, MLP 9216, vocab 256000, soft-cap 50, sliding window 4096 on"
              + " even layers; tiny-gpt2, tiny-gemma2 for tests")
  Shape shape;

  @Option(
      names = "--tokens",
      paramLabel = "T,...",
      split = ",",
      defaultValue = "128,1024",
      converter = Converters.PositiveConverter.class,
      description = "prompt lengths (default ${DEFAULT-VALUE})")
  List<Integer> tokens;

  @Option(
      names = "--layers",
      paramLabel = "N",
      converter = Converters.PositiveConverter.class,
      description =
          "layers written and run (default: all of gpt2-small's, 6 of gemma-2-2b's 26: 10.5 GB in"
              + " float32 otherwise; the full model's time is then extrapolated per layer)")
  Integer layers;

  @Option(
      names = "--dtype",
      paramLabel = "f32|bf16",
      defaultValue = "f32",
      description =
          "the checkpoint's dtype (default ${DEFAULT-VALUE}, as gpt2's and gemma-2-2b's files);"
              + " both peers compute in float32")
  String dtype;

  @Option(
      names = "--vocab",
      paramLabel = "N",
      converter = Converters.PositiveConverter.class,
      description =
          "vocabulary rows of the embedding (default the shape's; a forward only gathers the"
              + " prompt's rows, but PyTorch holds them all)")
  Integer vocab;

  @Option(
      names = "--repeat",
      paramLabel = "N",
      defaultValue = "3",
      converter = Converters.PositiveConverter.class,
      description =
          "forwards per prompt length and peer; medians compared (default ${DEFAULT-VALUE})")
  int repeat;

  @Option(
      names = "--threads",
      paramLabel = "N",
      converter = Converters.PositiveConverter.class,
      description = "threads of both peers (default: the machine's processors)")
  Integer threads;

  @Option(names = "--no-torch", description = "skip the PyTorch peer")
  boolean noTorch;

  @Option(
      names = "--no-streaming",
      description = "skip SAE Lab's streaming run (each layer's weights read inside every forward)")
  boolean noStreaming;

  @Option(
      names = "--dir",
      paramLabel = "DIR",
      description = "where the checkpoint goes (default: a temporary folder, removed after)")
  Path dir;

  /** Extra environment of the child processes (tests). */
  Map<String, String> peerEnv = Map.of();

  /** A model shape: Hugging Face config values. */
  enum Shape {
    GPT2_SMALL("gpt2-small", "GPT-2 small", "gpt2", 768, 12, 12, 12, 64, 3072, 50257, 1024, 0),
    GEMMA_2_2B("gemma-2-2b", "Gemma 2 2B", "gemma2", 2304, 26, 8, 4, 256, 9216, 256000, 8192, 4096),
    TINY_GPT2("tiny-gpt2", "tiny GPT-2", "gpt2", 64, 2, 4, 4, 16, 256, 512, 1024, 0),
    TINY_GEMMA2("tiny-gemma2", "tiny Gemma 2", "gemma2", 64, 2, 4, 2, 16, 128, 512, 8192, 4);

    final String id;
    final String label;
    final String modelType;
    final int dModel;
    final int layers;
    final int heads;
    final int kvHeads;
    final int dHead;
    final int mlp;
    final int vocab;
    final int context;
    final int window;

    Shape(
        String id,
        String label,
        String modelType,
        int dModel,
        int layers,
        int heads,
        int kvHeads,
        int dHead,
        int mlp,
        int vocab,
        int context,
        int window) {
      this.id = id;
      this.label = label;
      this.modelType = modelType;
      this.dModel = dModel;
      this.layers = layers;
      this.heads = heads;
      this.kvHeads = kvHeads;
      this.dHead = dHead;
      this.mlp = mlp;
      this.vocab = vocab;
      this.context = context;
      this.window = window;
    }

    boolean gpt2() {
      return modelType.equals("gpt2");
    }

    @Override
    public String toString() {
      return id;
    }
  }

  /** Parses {@code --shape}. */
  public static final class ShapeConverter implements picocli.CommandLine.ITypeConverter<Shape> {
    @Override
    public Shape convert(String s) {
      for (Shape x : Shape.values()) {
        if (x.id.equals(s)) {
          return x;
        }
      }
      throw new picocli.CommandLine.TypeConversionException(
          "expected gpt2-small, gemma-2-2b, tiny-gpt2 or tiny-gemma2");
    }
  }

  /** A tensor of the synthetic checkpoint: its name, shape and how its random values are drawn. */
  record Tensor(String name, long[] shape, float center, float spread) {
    long numel() {
      long n = 1;
      for (long s : shape) {
        n *= s;
      }
      return n;
    }
  }

  @Override
  public Integer call() throws IOException {
    if (!dtype.equals("f32") && !dtype.equals("bf16")) {
      throw new IllegalArgumentException("--dtype " + dtype + ": expected f32 or bf16");
    }
    int nLayers = layers != null ? layers : shape == Shape.GEMMA_2_2B ? 6 : shape.layers;
    if (nLayers > shape.layers) {
      throw new IllegalArgumentException(
          "--layers " + nLayers + ": " + shape.label + " has " + shape.layers);
    }
    int nVocab = vocab != null ? vocab : shape.vocab;
    int nThreads = threads != null ? threads : Runtime.getRuntime().availableProcessors();
    for (int t : tokens) {
      if (t > shape.context) {
        throw new IllegalArgumentException(
            "--tokens " + t + ": " + shape.label + "'s context is " + shape.context);
      }
    }
    List<Tensor> tensors = tensors(shape, nLayers, nVocab);
    long elements = tensors.stream().mapToLong(Tensor::numel).sum();
    int bytes = dtype.equals("f32") ? 4 : 2;
    long fileBytes = elements * bytes;
    long torchBytes = elements * 4;
    out.printf(
        Locale.ROOT,
        "bench forward: synthetic %s (d_model %d, %d heads, %d KV heads, d_head %d, MLP %d), %d of"
            + " %d layers, vocab %d%s, %s; %d threads each; ND4J native %s%n",
        shape.label,
        shape.dModel,
        shape.heads,
        shape.kvHeads,
        shape.dHead,
        shape.mlp,
        nLayers,
        shape.layers,
        nVocab,
        nVocab != shape.vocab ? " (the real one: " + shape.vocab + ")" : "",
        dtype.toUpperCase(Locale.ROOT),
        nThreads,
        Backend.init());
    long available = BenchCommand.availableMemoryBytes();
    out.printf(
        Locale.ROOT,
        "  checkpoint %.2f GB on disk (%,d parameters); PyTorch holds them in float32: %.2f GB;"
            + " %.1f GB of memory available; the machine's %d processors may be shared%n",
        fileBytes / 1e9,
        elements,
        torchBytes / 1e9,
        available / 1e9,
        Runtime.getRuntime().availableProcessors());
    boolean torch = !noTorch;
    if (torch && available > 0 && torchBytes * 1.3 > available) {
      out.printf(
          Locale.ROOT,
          "  PyTorch peer skipped: its %.1f GB of float32 weights would not fit in the %.1f GB"
              + " available (try --layers or --dtype bf16 with fewer layers)%n",
          torchBytes / 1e9,
          available / 1e9);
      torch = false;
    }
    Path folder = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("saelab");
    boolean temporary = dir == null;
    try {
      long t0 = System.nanoTime();
      writeCheckpoint(folder, shape, nLayers, nVocab, dtype, tensors);
      out.printf(
          Locale.ROOT,
          "  wrote %s in %.1f s%n",
          folder.resolve("model.safetensors"),
          (System.nanoTime() - t0) / 1e9);
      if (torch) {
        torch = torchDetected(nThreads);
      }
      for (int t : tokens) {
        int[] ids = tokenIds(t, nVocab);
        Run ours = saeLab(folder, ids, nThreads, true);
        if (ours == null) {
          return 1;
        }
        Run cold = null;
        if (!noStreaming) {
          cold = saeLab(folder, ids, nThreads, false);
          if (cold == null) {
            return 1;
          }
        }
        Run theirs = torch ? torchRun(folder, ids, nThreads) : null;
        report(t, nLayers, ours, cold, theirs);
      }
    } finally {
      if (temporary) {
        BenchCommand.deleteTree(folder);
      }
    }
    return 0;
  }

  /** One peer's forwards on one prompt. */
  record Run(double[] rounds, double peakMiB, double loadSeconds, float[] last) {
    double median() {
      return BenchCommand.median(rounds);
    }
  }

  private void report(int t, int nLayers, Run ours, Run cold, Run theirs) {
    double s = ours.median();
    out.printf(
        Locale.ROOT,
        "  %5d tokens  SAE Lab %8.3f s %9.0f tokens/s  peak RSS %6.0f MiB   (rounds %s; weights"
            + " loaded in %.2f s, not timed)%n",
        t,
        s,
        t / s,
        ours.peakMiB(),
        rounds(ours.rounds()),
        ours.loadSeconds());
    if (cold != null) {
      out.printf(
          Locale.ROOT,
          "  %5d tokens  SAE Lab streaming %8.3f s %9.0f tokens/s  peak RSS %6.0f MiB   (rounds"
              + " %s; each layer's weights read inside every forward)%n",
          t,
          cold.median(),
          t / cold.median(),
          cold.peakMiB(),
          rounds(cold.rounds()));
    }
    if (theirs != null) {
      double p = theirs.median();
      out.printf(
          Locale.ROOT,
          "  %5d tokens  PyTorch %8.3f s %9.0f tokens/s  peak RSS %6.0f MiB   (rounds %s; weights"
              + " loaded in %.2f s, not timed)%n",
          t,
          p,
          t / p,
          theirs.peakMiB(),
          rounds(theirs.rounds()),
          theirs.loadSeconds());
      out.printf(
          Locale.ROOT,
          "  %5d tokens  SAE Lab / PyTorch: %.2fx the speed (target >= 1), %.2fx the memory (target"
              + " <= 1); last position's final-norm output: max |difference| %.2g (max |value|"
              + " %.3g)%n",
          t,
          p / s,
          ours.peakMiB() / theirs.peakMiB(),
          maxDiff(ours.last(), theirs.last()),
          maxAbs(theirs.last()));
      if (cold != null) {
        out.printf(
            Locale.ROOT,
            "  %5d tokens  SAE Lab streaming / PyTorch: %.2fx the speed, %.2fx the memory%n",
            t,
            p / cold.median(),
            cold.peakMiB() / theirs.peakMiB());
      }
    }
    if (nLayers < shape.layers) {
      double f = shape.layers / (double) nLayers;
      out.printf(
          Locale.ROOT,
          "  %5d tokens  extrapolated to %d layers (x %.2f, not run): SAE Lab %.2f s (%.0f"
              + " tokens/s)%s%n",
          t,
          shape.layers,
          f,
          s * f,
          t / (s * f),
          theirs == null
              ? ""
              : String.format(
                  Locale.ROOT,
                  ", PyTorch %.2f s (%.0f tokens/s), its weights %.1f GB more in memory",
                  theirs.median() * f,
                  t / (theirs.median() * f),
                  (shape.layers - nLayers) * layerParameters(shape) * 4.0 / 1e9));
    }
  }

  private static String rounds(double[] x) {
    StringBuilder sb = new StringBuilder();
    for (double v : x) {
      sb.append(sb.length() == 0 ? "" : " ").append(String.format(Locale.ROOT, "%.3f", v));
    }
    return sb.toString();
  }

  static double maxDiff(float[] a, float[] b) {
    if (a.length != b.length) {
      return Double.NaN;
    }
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }

  private static double maxAbs(float[] a) {
    double m = 0;
    for (float v : a) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }

  /** Deterministic token ids spread over the vocabulary. */
  static int[] tokenIds(int t, int vocab) {
    int[] ids = new int[t];
    long x = 0x9E3779B97F4A7C15L;
    for (int i = 0; i < t; i++) {
      x ^= x << 13;
      x ^= x >>> 7;
      x ^= x << 17;
      ids[i] = (int) Math.floorMod(x, (long) vocab);
    }
    return ids;
  }

  // ---- the peers

  private boolean torchDetected(int nThreads) throws IOException {
    JsonNode id =
        BenchCommand.runPython(
            "brute_force.py",
            List.of("--peer", "torch", "--detect"),
            peerEnv,
            err,
            "the PyTorch peer");
    if (id == null) {
      return false;
    }
    if (!id.path("importable").asBoolean()) {
      out.println(
          "  PyTorch peer skipped: torch is not importable by "
              + BenchCommand.PYTHON
              + " ("
              + id.path("error").asText()
              + "); apt-get install python3-torch");
      return false;
    }
    List<String> evidence = new ArrayList<>();
    id.path("blas").forEach(x -> evidence.add(x.asText()));
    BenchCommand.Blas blas = BenchCommand.classifyBlas(evidence);
    out.println(
        BenchCommand.blasLine(
            "PyTorch", id.path("version").asText(), blas, "; torch threads " + nThreads));
    return blas.kind() != BenchCommand.Blas.Kind.REFERENCE;
  }

  private Run torchRun(Path folder, int[] ids, int nThreads) throws IOException {
    Map<String, String> env = new LinkedHashMap<>(peerEnv);
    env.put("OMP_NUM_THREADS", "" + nThreads);
    JsonNode r =
        BenchCommand.runPython(
            "forward_peer.py",
            List.of(folder.toString(), join(ids), "" + repeat, "" + nThreads),
            env,
            err,
            "the PyTorch forward peer");
    return r == null ? null : run(r);
  }

  private static Run run(JsonNode r) {
    double[] rounds = new double[r.path("rounds").size()];
    for (int i = 0; i < rounds.length; i++) {
      rounds[i] = r.path("rounds").get(i).asDouble();
    }
    float[] last = new float[r.path("last").size()];
    for (int i = 0; i < last.length; i++) {
      last[i] = (float) r.path("last").get(i).asDouble();
    }
    return new Run(
        rounds, r.path("maxrss_kib").asDouble() / 1024, r.path("load_seconds").asDouble(), last);
  }

  private static String join(int[] ids) {
    StringBuilder sb = new StringBuilder();
    for (int id : ids) {
      sb.append(sb.length() == 0 ? "" : ",").append(id);
    }
    return sb.toString();
  }

  /**
   * SAE Lab's forwards in a child JVM (this JVM's java, class path and flags, less agents), so that
   * its peak RSS is the forward's own, not this process's: with the weights loaded once before the
   * timed rounds ({@code resident}) or read per layer inside each.
   */
  private Run saeLab(Path folder, int[] ids, int nThreads, boolean resident) throws IOException {
    Path result = Files.createTempFile("saelab-forward", ".json");
    Path idFile = Files.createTempFile("saelab-forward", ".ids");
    try {
      Files.writeString(idFile, join(ids));
      List<String> cmd = new ArrayList<>();
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      for (String a :
          java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
        if (!a.startsWith("-javaagent")
            && !a.startsWith("-agentlib")
            && !a.startsWith("-agentpath")
            && !a.startsWith("-Xrunjdwp")) {
          cmd.add(a);
        }
      }
      cmd.addAll(
          List.of(
              "-cp",
              System.getProperty("java.class.path"),
              Child.class.getName(),
              folder.toString(),
              idFile.toString(),
              "" + repeat,
              result.toString(),
              resident ? "resident" : "streaming",
              "" + nThreads));
      ProcessBuilder pb = new ProcessBuilder(cmd);
      pb.environment().putAll(peerEnv);
      pb.environment().put("OMP_NUM_THREADS", "" + nThreads);
      pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
      pb.redirectError(ProcessBuilder.Redirect.INHERIT);
      Process p = pb.start();
      if (p.waitFor() != 0) {
        err.println(
            "bench: SAE Lab's forward failed in a child JVM (" + String.join(" ", cmd) + ")");
        return null;
      }
      return run(new ObjectMapper().readTree(result.toFile()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } finally {
      Files.deleteIfExists(result);
      Files.deleteIfExists(idFile);
    }
  }

  /**
   * The child JVM of {@link #saeLab}: {@code MODEL_DIR IDS_FILE ROUNDS RESULT.json
   * resident|streaming THREADS}; sets ND4J's threads (the forward's Java loops use as many), writes
   * the weights' load seconds (resident), the rounds' seconds, VmHWM and the last position's
   * final-norm output.
   */
  public static final class Child {
    private Child() {}

    /** Runs the forwards. */
    public static void main(String[] args) throws IOException {
      Backend.init();
      Path folder = Path.of(args[0]);
      int[] ids =
          java.util.Arrays.stream(Files.readString(Path.of(args[1])).strip().split(","))
              .mapToInt(Integer::parseInt)
              .toArray();
      int rounds = Integer.parseInt(args[2]);
      boolean resident = args[4].equals("resident");
      int threads = Integer.parseInt(args[5]);
      Nd4j.getEnvironment().setMaxThreads(threads);
      Nd4j.getEnvironment().setMaxMasterThreads(threads);
      ObjectNode r = new ObjectMapper().createObjectNode();
      ArrayNode times = r.putArray("rounds");
      float[] last = null;
      try (ModelWeights m = ModelWeights.open(folder);
          ForwardPass.Session s = resident ? ForwardPass.load(m) : null) {
        r.put("load_seconds", s == null ? 0 : s.loadSeconds());
        for (int i = 0; i < rounds; i++) {
          long t0 = System.nanoTime();
          try (Activations a =
              s != null
                  ? s.runHooks(ids, List.of(Hook.FINAL_NORM))
                  : ForwardPass.runHooks(m, ids, List.of(Hook.FINAL_NORM))) {
            INDArray x = a.get(Hook.FINAL_NORM);
            times.add((System.nanoTime() - t0) / 1e9);
            last = x.getRow(ids.length - 1).dup().toFloatVector();
          }
        }
      }
      r.put("threads", Nd4j.getEnvironment().maxThreads());
      r.put("maxrss_kib", BenchCommand.vmHwmMiB() * 1024);
      ArrayNode l = r.putArray("last");
      for (float v : last) {
        l.add(v);
      }
      Files.writeString(Path.of(args[3]), r.toString(), StandardCharsets.UTF_8);
      System.exit(0);
    }
  }

  // ---- the synthetic checkpoint

  /** Parameters of one layer. */
  static long layerParameters(Shape s) {
    return tensors(s, 1, 1).stream()
        .filter(t -> t.name().startsWith("h.0.") || t.name().startsWith("model.layers.0."))
        .mapToLong(Tensor::numel)
        .sum();
  }

  /**
   * The checkpoint's tensors, named and shaped as Hugging Face stores them: GPT-2's Conv1D weights
   * {@code [in, out]}, Gemma's Linear weights {@code [out, in]}. Values: uniform with standard
   * deviation 0.02 around 0 for weights and embeddings (0.01 for biases), LayerNorm gains around 1,
   * Gemma's norm weights around 0 (their gain is 1 + w).
   */
  static List<Tensor> tensors(Shape s, int nLayers, int nVocab) {
    List<Tensor> t = new ArrayList<>();
    long d = s.dModel;
    long ff = s.mlp;
    if (s.gpt2()) {
      t.add(new Tensor("wte.weight", new long[] {nVocab, d}, 0, 0.02f));
      t.add(new Tensor("wpe.weight", new long[] {s.context, d}, 0, 0.01f));
      for (int l = 0; l < nLayers; l++) {
        String p = "h." + l + ".";
        t.add(new Tensor(p + "ln_1.weight", new long[] {d}, 1, 0.05f));
        t.add(new Tensor(p + "ln_1.bias", new long[] {d}, 0, 0.01f));
        t.add(new Tensor(p + "attn.c_attn.weight", new long[] {d, 3 * d}, 0, 0.02f));
        t.add(new Tensor(p + "attn.c_attn.bias", new long[] {3 * d}, 0, 0.01f));
        t.add(new Tensor(p + "attn.c_proj.weight", new long[] {d, d}, 0, 0.02f));
        t.add(new Tensor(p + "attn.c_proj.bias", new long[] {d}, 0, 0.01f));
        t.add(new Tensor(p + "ln_2.weight", new long[] {d}, 1, 0.05f));
        t.add(new Tensor(p + "ln_2.bias", new long[] {d}, 0, 0.01f));
        t.add(new Tensor(p + "mlp.c_fc.weight", new long[] {d, ff}, 0, 0.02f));
        t.add(new Tensor(p + "mlp.c_fc.bias", new long[] {ff}, 0, 0.01f));
        t.add(new Tensor(p + "mlp.c_proj.weight", new long[] {ff, d}, 0, 0.02f));
        t.add(new Tensor(p + "mlp.c_proj.bias", new long[] {d}, 0, 0.01f));
      }
      t.add(new Tensor("ln_f.weight", new long[] {d}, 1, 0.05f));
      t.add(new Tensor("ln_f.bias", new long[] {d}, 0, 0.01f));
      return t;
    }
    long hq = (long) s.heads * s.dHead;
    long hk = (long) s.kvHeads * s.dHead;
    t.add(new Tensor("model.embed_tokens.weight", new long[] {nVocab, d}, 0, 0.02f));
    for (int l = 0; l < nLayers; l++) {
      String p = "model.layers." + l + ".";
      t.add(new Tensor(p + "input_layernorm.weight", new long[] {d}, 0, 0.05f));
      t.add(new Tensor(p + "self_attn.q_proj.weight", new long[] {hq, d}, 0, 0.02f));
      t.add(new Tensor(p + "self_attn.k_proj.weight", new long[] {hk, d}, 0, 0.02f));
      t.add(new Tensor(p + "self_attn.v_proj.weight", new long[] {hk, d}, 0, 0.02f));
      t.add(new Tensor(p + "self_attn.o_proj.weight", new long[] {d, hq}, 0, 0.02f));
      t.add(new Tensor(p + "post_attention_layernorm.weight", new long[] {d}, 0, 0.05f));
      t.add(new Tensor(p + "pre_feedforward_layernorm.weight", new long[] {d}, 0, 0.05f));
      t.add(new Tensor(p + "mlp.gate_proj.weight", new long[] {ff, d}, 0, 0.02f));
      t.add(new Tensor(p + "mlp.up_proj.weight", new long[] {ff, d}, 0, 0.02f));
      t.add(new Tensor(p + "mlp.down_proj.weight", new long[] {d, ff}, 0, 0.02f));
      t.add(new Tensor(p + "post_feedforward_layernorm.weight", new long[] {d}, 0, 0.05f));
    }
    t.add(new Tensor("model.norm.weight", new long[] {d}, 0, 0.05f));
    return t;
  }

  /** The config.json of the shape, as the real model's with {@code nLayers} and {@code nVocab}. */
  static ObjectNode config(Shape s, int nLayers, int nVocab, String dtype) {
    ObjectNode c = new ObjectMapper().createObjectNode();
    String torchDtype = dtype.equals("f32") ? "float32" : "bfloat16";
    if (s.gpt2()) {
      c.putArray("architectures").add("GPT2LMHeadModel");
      c.put("model_type", "gpt2");
      c.put("n_embd", s.dModel);
      c.put("n_head", s.heads);
      c.put("n_layer", nLayers);
      c.put("n_ctx", s.context);
      c.put("n_positions", s.context);
      c.put("vocab_size", nVocab);
      c.put("layer_norm_epsilon", 1e-5);
      c.put("activation_function", "gelu_new");
      c.put("torch_dtype", torchDtype);
      return c;
    }
    c.putArray("architectures").add("Gemma2ForCausalLM");
    c.put("model_type", "gemma2");
    c.put("hidden_size", s.dModel);
    c.put("num_hidden_layers", nLayers);
    c.put("num_attention_heads", s.heads);
    c.put("num_key_value_heads", s.kvHeads);
    c.put("head_dim", s.dHead);
    c.put("intermediate_size", s.mlp);
    c.put("vocab_size", nVocab);
    c.put("rms_norm_eps", 1e-6);
    c.put("rope_theta", 10000.0);
    c.put("max_position_embeddings", s.context);
    c.put("query_pre_attn_scalar", s.dHead);
    c.put("attn_logit_softcapping", 50.0);
    c.put("final_logit_softcapping", 30.0);
    c.put("sliding_window", s.window);
    c.put("hidden_activation", "gelu_pytorch_tanh");
    c.put("torch_dtype", torchDtype);
    ArrayNode types = c.putArray("layer_types");
    for (int l = 0; l < nLayers; l++) {
      types.add(l % 2 == 0 ? "sliding_attention" : "full_attention");
    }
    return c;
  }

  /**
   * Writes config.json and model.safetensors (F32 or BF16, rounded to nearest even), the values
   * drawn by a xorshift generator seeded per tensor.
   */
  static void writeCheckpoint(
      Path folder, Shape s, int nLayers, int nVocab, String dtype, List<Tensor> tensors)
      throws IOException {
    ObjectMapper json = new ObjectMapper();
    Files.writeString(
        folder.resolve("config.json"),
        json.writerWithDefaultPrettyPrinter()
            .writeValueAsString(config(s, nLayers, nVocab, dtype)));
    boolean bf16 = dtype.equals("bf16");
    int es = bf16 ? 2 : 4;
    ObjectNode header = json.createObjectNode();
    header.putObject("__metadata__").put("format", "pt");
    long offset = 0;
    for (Tensor t : tensors) {
      ObjectNode h = header.putObject(t.name());
      h.put("dtype", bf16 ? "BF16" : "F32");
      ArrayNode shape = h.putArray("shape");
      for (long x : t.shape()) {
        shape.add(x);
      }
      h.putArray("data_offsets").add(offset).add(offset + t.numel() * es);
      offset += t.numel() * es;
    }
    byte[] hb = json.writeValueAsBytes(header);
    int padded = (hb.length + 7) / 8 * 8;
    try (FileChannel ch =
        FileChannel.open(
            folder.resolve("model.safetensors"),
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      ByteBuffer buf = ByteBuffer.allocateDirect(1 << 22).order(ByteOrder.LITTLE_ENDIAN);
      buf.putLong(padded);
      buf.put(hb);
      for (int i = hb.length; i < padded; i++) {
        buf.put((byte) ' ');
      }
      long seed = 1;
      for (Tensor t : tensors) {
        long x = 0x9E3779B97F4A7C15L * (seed++) + 0x632BE59BD9B4E019L;
        // uniform on [-a, a] has standard deviation a/√3
        float a = (float) (t.spread() * Math.sqrt(3));
        for (long i = 0, n = t.numel(); i < n; i++) {
          x ^= x << 13;
          x ^= x >>> 7;
          x ^= x << 17;
          float v = t.center() + a * ((x >>> 40) * 0x1.0p-23f - 1f);
          if (buf.remaining() < 4) {
            buf.flip();
            while (buf.hasRemaining()) {
              ch.write(buf);
            }
            buf.clear();
          }
          if (bf16) {
            int bits = Float.floatToRawIntBits(v);
            buf.putShort((short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16));
          } else {
            buf.putFloat(v);
          }
        }
      }
      buf.flip();
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
    }
  }
}
