package dev.saelab.cli;

import dev.saelab.circuits.CircuitSpec;
import dev.saelab.circuits.CircuitTable;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.linalg.Progress;
import dev.saelab.linalg.Screen;
import dev.saelab.io.NpzFile;
import dev.saelab.io.ShardedSafetensors;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import dev.saelab.model.Norm;
import dev.saelab.model.NormKind;
import dev.saelab.io.Backend;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import picocli.CommandLine.Command;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@code saelab bench}: speed and memory figures printed as ratios against baselines measured in the same run.
 * <ul>
 *   <li>{@code bench tables}: a synthetic layer of Gemma 2 2B's shape; SAE Lab's engine vs the same GEMMs alone vs
 *       numpy brute force (Bostock's method, float32); peak RSS; pruning on heavy-tailed norms.
 *   <li>{@code bench load}: opening a ~10 GB sparse sharded checkpoint and reading one layer's attention; reading a
 *       300 MB npz SAE against {@code cat file > /dev/null}.
 * </ul>
 */
@Command(name = "bench", description = "Speed and memory benchmarks, printed as ratios against baselines measured in"
    + " the same run: bench tables [--features 16384] [--top 1000] [--tail-sigma 1.0] [--screen auto|int8|fp32]"
    + " [--repeat N] [--no-numpy] [--no-baseline] [--no-prune-compare] [--no-screen-compare]; bench load [--dir DIR].")
public final class BenchCommand extends CliCommand {
  @picocli.CommandLine.Unmatched List<String> argv = new ArrayList<>();

  @Override
  public Integer call() throws IOException {
    return run(argv.toArray(new String[0]));
  }

  private static final List<String> VALUES = List.of("--features", "--top", "--dir", "--tail-sigma", "--screen",
      "--repeat");
  private static final List<String> FLAGS = List.of("--no-numpy", "--no-baseline", "--no-prune-compare",
      "--no-screen-compare", "--help");

  int run(String[] argv) throws IOException {
    if (argv.length == 0 || argv[0].equals("--help")) {
      out.println("usage: saelab bench tables [--features 16384] [--top 1000] [--tail-sigma 1.0]"
          + " [--screen auto|int8|fp32] [--repeat N] [--no-numpy] [--no-baseline] [--no-prune-compare]"
          + " [--no-screen-compare]\n"
          + "       saelab bench load [--dir DIR]");
      return argv.length == 0 ? 2 : 0;
    }
    Args a = new Args("bench " + argv[0], java.util.Arrays.copyOfRange(argv, 1, argv.length), VALUES, FLAGS);
    switch (argv[0]) {
      case "tables":
        return tables(a);
      case "load":
        return load(a);
      default:
        throw new IllegalArgumentException("bench " + argv[0] + ": expected tables or load");
    }
  }

  // ------------------------------------------------------------------------------------------------ tables
  private int tables(Args a) throws IOException {
    String variant = Backend.init();
    int n = a.intValue("--features", 16384);
    int top = a.intValue("--top", 1000);
    double sigma = Double.parseDouble(a.get("--tail-sigma", "1.0"));
    Screen screen = Screen.parse(a.get("--screen", "auto"));
    int repeat = a.intValue("--repeat", 1);
    if (repeat < 1) {
      throw new IllegalArgumentException("--repeat " + repeat + ": expected a positive number of rounds");
    }
    ModelConfig c = gemma2Layer();
    out.printf(Locale.ROOT, "bench tables: synthetic Gemma 2 2B layer (d_model %d, %d heads, %d KV heads, d_head %d),"
        + " two %d-wide SAEs, QK and OV, all heads, top-%d by |value|; ND4J native %s, %d threads%n",
        c.dModel(), c.nHeads(), c.nKvHeads(), c.dHead(), n, top, variant, Runtime.getRuntime().availableProcessors());
    AttentionWeights attn = syntheticAttention(c, 1);
    INDArray dec = randn(2, n, c.dModel());
    INDArray enc = randn(3, n, c.dModel());
    CircuitSpec spec = CircuitSpec.defaults().withTopK(top);

    // Rounds interleave the engine and its baselines, so slow and fast spells of a shared machine hit all of them;
    // medians are compared (the first engine round also pays the JIT's and oneDNN's warm-up).
    double[] ours = new double[repeat];
    double[] gemm = new double[repeat];
    double[] fp32 = new double[repeat];
    List<CircuitTable> tables = null;
    int tr = 0;
    int tc = 0;
    boolean baseline = !a.has("--no-baseline");
    for (int round = 0; round < repeat; round++) {
      long t0 = System.nanoTime();
      try (FeatureCircuits fc = FeatureCircuits.fromArrays(attn, dec, null, enc, false)) {
        fc.screen(screen);
        tables = fc.compute(spec, Progress.NONE);
        ours[round] = seconds(t0);
        tr = fc.tileRows();
        tc = fc.tileCols();
        out.printf(Locale.ROOT, "  SAE Lab engine, %s screen %7.2f s   (%d/%d tiles skipped by the norm bound; %d"
            + " entries rescored exactly)%s%n", screen, ours[round], fc.stats().skipped(), fc.stats().tiles(),
            fc.stats().rescored(), repeat > 1 ? " round " + (round + 1) : "");
      }
      if (round == 0) {
        out.printf(Locale.ROOT, "  peak RSS after the engine %7.0f MiB (VmHWM of this JVM, inputs included; target <"
            + " %s)%n", vmHwmMiB(), n <= 16384 ? "2048" : "4096");
      }
      if (baseline) {
        gemm[round] = gemmsAlone(attn, dec, enc, screen, tr, tc);
        fp32[round] = screen == Screen.INT8 ? gemmsAlone(attn, dec, enc, Screen.FP32,
            FeatureCircuits.DEFAULT_TILE_ROWS, FeatureCircuits.DEFAULT_TILE_COLS) : gemm[round];
      }
    }
    double engine = median(ours);
    String of = repeat > 1 ? " (median of " + repeat + ")" : "";
    if (repeat > 1) {
      out.printf(Locale.ROOT, "  SAE Lab engine%s %8.2f s   first round %.2f s%n", of, engine, ours[0]);
    }
    if (baseline) {
      out.printf(Locale.ROOT, "  same GEMMs alone%s %8.2f s   (float32 projections + %s %dx%d tiles)"
          + " engine / GEMMs = %.2f (target <= 1.3)%n", of, median(gemm), screen, tr, tc, engine / median(gemm));
      if (screen == Screen.INT8) {
        out.printf(Locale.ROOT, "  float32 GEMMs alone%s %8.2f s   (every product in float32, no selection)"
            + " engine / float32 GEMMs = %.2f%n", of, median(fp32), engine / median(fp32));
      }
    }
    if (!a.has("--no-screen-compare") && screen == Screen.INT8) {
      long t1 = System.nanoTime();
      try (FeatureCircuits fc = FeatureCircuits.fromArrays(attn, dec, null, enc, false)) {
        List<CircuitTable> other = fc.screen(Screen.FP32).compute(spec, Progress.NONE);
        out.printf(Locale.ROOT, "  same engine, fp32 screen %8.2f s   (%d entries rescored); identical tables: %s%n",
            seconds(t1), fc.stats().rescored(), other.equals(tables));
      }
    }
    if (!a.has("--no-numpy")) {
      double[] np = numpy(n, c, top, repeat);
      if (np != null) {
        out.printf(Locale.ROOT, "  numpy brute force%s %8.2f s   %snumpy / engine = %.1fx faster (target >= 8)%n", of,
            median(np), repeat > 1 ? "rounds " + java.util.Arrays.toString(round2(np)) + "; " : "",
            median(np) / engine);
      }
    }
    dec.close();
    enc.close();
    if (!a.has("--no-prune-compare")) {
      pruning(c, attn, n, top, sigma);
    }
    out.println("  first table row: " + tables.get(0).headName() + " " + tables.get(0).edges().get(0));
    return 0;
  }

  /** Heavy-tailed decoder norms (log-normal, like real SAE decoders): pruning on vs off, same results. */
  private void pruning(ModelConfig c, AttentionWeights attn, int n, int top, double sigma) {
    INDArray scale = randn(5, n, 1).muli(sigma);
    org.nd4j.linalg.ops.transforms.Transforms.exp(scale, false);
    INDArray dec = randn(6, n, c.dModel()).muliColumnVector(scale);
    INDArray enc = randn(7, n, c.dModel()).muliColumnVector(scale);
    double[] secs = new double[2];
    long[] skipped = new long[2];
    long[] tiles = new long[2];
    List<List<CircuitTable>> results = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      long t0 = System.nanoTime();
      try (FeatureCircuits fc = FeatureCircuits.fromArrays(attn, dec, null, enc, false)) {
        results.add(fc.compute(CircuitSpec.defaults().withTopK(top).withPrune(i == 0), Progress.NONE));
        secs[i] = seconds(t0);
        skipped[i] = fc.stats().skipped();
        tiles[i] = fc.stats().tiles();
      }
    }
    boolean same = results.get(0).equals(results.get(1));
    out.printf(Locale.ROOT, "  heavy-tailed norms (log-normal sigma %.1f): pruned %.2f s, %d/%d tiles skipped (%.0f%%);"
        + " unpruned %.2f s; speed-up %.2fx; identical tables: %s%n", sigma, secs[0], skipped[0], tiles[0],
        100.0 * skipped[0] / tiles[0], secs[1], secs[1] / secs[0], same);
    dec.close();
    enc.close();
  }

  /**
   * The projections and every head's full product, tile by tile, with no selection: the GEMM floor of the engine
   * with {@code screen} (int8: the tiles' integer GEMMs on int8 copies of the projections, made outside the timer).
   */
  private static double gemmsAlone(AttentionWeights attn, INDArray dec, INDArray enc, Screen screen, int tr, int tc) {
    ModelConfig c = attn.config();
    int dh = c.dHead();
    // Folding and output allocation outside the timer: only the GEMMs are timed.
    INDArray dn = dec.mulRowVector(attn.inputNorm().gain());
    INDArray en = enc.mulRowVector(attn.postAttnNorm().gain());
    INDArray wOt = attn.wO().transpose().dup('c');
    INDArray q = Nd4j.zeros(DataType.FLOAT, dec.rows(), attn.wQ().columns());
    INDArray k = Nd4j.zeros(DataType.FLOAT, dec.rows(), attn.wK().columns());
    INDArray v = Nd4j.zeros(DataType.FLOAT, dec.rows(), attn.wV().columns());
    INDArray p = Nd4j.zeros(DataType.FLOAT, enc.rows(), wOt.columns());
    long t0 = System.nanoTime();
    Nd4j.gemm(dn, attn.wQ(), q, false, false, 1.0, 0.0);
    Nd4j.gemm(dn, attn.wK(), k, false, false, 1.0, 0.0);
    Nd4j.gemm(dn, attn.wV(), v, false, false, 1.0, 0.0);
    Nd4j.gemm(en, wOt, p, false, false, 1.0, 0.0);
    double seconds = seconds(t0);
    dn.close();
    en.close();
    wOt.close();
    Map<String, INDArray> tiles = new LinkedHashMap<>(); // one reused tile per shape, as in the engine
    for (int h = 0; h < c.nHeads(); h++) {
      int g = c.kvHead(h);
      for (INDArray[] lr : new INDArray[][] {{FeatureCircuits.slice(q, h, dh),
          FeatureCircuits.slice(k, g, dh)}, {FeatureCircuits.slice(v, g, dh), FeatureCircuits.slice(p, h, dh)}}) {
        long nl = lr[0].rows();
        long nr = lr[1].rows();
        List<INDArray> blocks = new ArrayList<>();
        INDArray left = lr[0];
        INDArray right = lr[1];
        if (screen == Screen.INT8) {
          left = lr[0].mul(400).castTo(DataType.BYTE);
          right = lr[1].mul(400).castTo(DataType.BYTE);
        } else {
          for (long c0 = 0; c0 < nr; c0 += tc) {
            blocks.add(right.get(NDArrayIndex.interval(c0, Math.min(nr, c0 + tc)), NDArrayIndex.all()).transpose()
                .dup('c'));
          }
        }
        long t1 = System.nanoTime();
        for (long r0 = 0; r0 < nl; r0 += tr) {
          INDArray aa = left.get(NDArrayIndex.interval(r0, Math.min(nl, r0 + tr)), NDArrayIndex.all());
          for (long c0 = 0; c0 < nr; c0 += tc) {
            long cols = Math.min(nr, c0 + tc) - c0;
            DataType type = screen == Screen.INT8 ? DataType.INT : DataType.FLOAT;
            INDArray t = tiles.computeIfAbsent(type + ":" + aa.rows() + "x" + cols,
                kk -> Nd4j.createUninitialized(type, new long[] {aa.rows(), cols}, 'c'));
            if (screen == Screen.INT8) {
              INDArray bb = right.get(NDArrayIndex.interval(c0, c0 + cols), NDArrayIndex.all());
              Nd4j.exec(DynamicCustomOp.builder("matmul").addInputs(aa, bb).addOutputs(t).addIntegerArguments(0, 1)
                  .build());
            } else {
              Nd4j.gemm(aa, blocks.get((int) (c0 / tc)), t, false, false, 1.0, 0.0);
            }
          }
        }
        seconds += seconds(t1);
        if (left != lr[0]) {
          left.close();
          right.close();
        }
        lr[0].close();
        lr[1].close();
        blocks.forEach(INDArray::close);
      }
    }
    for (INDArray x : new INDArray[] {q, k, v, p}) {
      x.close();
    }
    tiles.values().forEach(INDArray::close);
    return seconds;
  }

  /** Seconds of each of {@code repeat} brute-force rounds in one numpy process, or null when it failed. */
  private double[] numpy(int n, ModelConfig c, int top, int repeat) throws IOException {
    Path script = Files.createTempFile("saelab-brute-force", ".py");
    try (InputStream in = BenchCommand.class.getResourceAsStream("/dev/saelab/bench/brute_force.py")) {
      Files.copy(in, script, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    ProcessBuilder pb = new ProcessBuilder("/usr/bin/python3", script.toString(), "" + n, "" + c.dModel(),
        "" + c.nHeads(), "" + c.nKvHeads(), "" + c.dHead(), "" + top, "" + repeat);
    pb.redirectError(ProcessBuilder.Redirect.INHERIT);
    try {
      Process p = pb.start();
      String json = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0) {
        err.println("bench: numpy baseline failed (is python3-numpy installed?)");
        return null;
      }
      var node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json).get("rounds");
      double[] out = new double[node.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = node.get(i).asDouble();
      }
      return out;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } finally {
      Files.deleteIfExists(script);
    }
  }

  static double median(double[] x) {
    double[] s = x.clone();
    java.util.Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  private static double[] round2(double[] x) {
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = Math.round(x[i] * 100) / 100.0;
    }
    return out;
  }

  static ModelConfig gemma2Layer() {
    boolean[] sliding = new boolean[26];
    for (int i = 0; i < 26; i += 2) {
      sliding[i] = true;
    }
    return new ModelConfig("gemma2", 2304, 26, 8, 4, 256, NormKind.RMS_ONE_PLUS, 1e-6, 10000, 1 / 16.0, 50, 4096,
        sliding, true, 8192);
  }

  static AttentionWeights syntheticAttention(ModelConfig c, long seed) {
    int d = c.dModel();
    int hq = c.nHeads() * c.dHead();
    int hk = c.nKvHeads() * c.dHead();
    INDArray wq = randn(seed, d, hq).muli(0.02);
    INDArray wk = randn(seed + 10, d, hk).muli(0.02);
    INDArray wv = randn(seed + 20, d, hk).muli(0.02);
    INDArray wo = randn(seed + 30, hq, d).muli(0.02);
    INDArray g1 = randn(seed + 40, d).muli(0.3).addi(1);
    INDArray g2 = randn(seed + 50, d).muli(0.3).addi(1);
    return new AttentionWeights(13, c, wq, wk, wv, wo, null, null, null, null, new Norm(c.norm(), g1, null),
        new Norm(c.norm(), g2, null));
  }

  // ------------------------------------------------------------------------------------------------ load
  private int load(Args a) throws IOException {
    Backend.init();
    Path dir = a.has("--dir") ? Path.of(a.get("--dir", "")) : Files.createTempDirectory("saelab-bench-load");
    Files.createDirectories(dir);
    try {
      Path model = dir.resolve("gemma-2-2b-sparse");
      long size = sparseGemmaCheckpoint(model);
      long t0 = System.nanoTime();
      long read;
      try (ModelWeights m = ModelWeights.open(model)) {
        m.attention(13);
        read = m.tensors().bytesRead();
      }
      double s = seconds(t0);
      out.printf(Locale.ROOT, "bench load: sharded checkpoint of %.2f GB (sparse files, Gemma 2 2B shapes, float32)%n",
          size / 1e9);
      out.printf(Locale.ROOT, "  open + read layer 13 attention: %.3f s, %.1f MB of tensor data read (%.4f%% of the"
          + " checkpoint; headers aside)%n", s, read / 1e6, 100.0 * read / size);

      Path npz = dir.resolve("params.npz");
      long npzSize = writeNpz(npz, 2304, 16384);
      double cat = catSeconds(npz);
      long t1 = System.nanoTime();
      long bytes = 0;
      try (NpzFile f = NpzFile.open(npz)) {
        for (String name : List.of("W_enc", "W_dec", "b_enc", "b_dec", "threshold")) {
          INDArray arr = f.readArray(name);
          bytes += arr.length() * 4;
          arr.close();
        }
      }
      double ours = seconds(t1);
      out.printf(Locale.ROOT, "  npz SAE %.0f MB (2304 x 16384, STORED): SAE Lab %.2f s = %.2f GB/s; cat > /dev/null"
          + " %.2f s = %.2f GB/s; ratio %.2f%n", npzSize / 1e6, ours, bytes / ours / 1e9, cat, npzSize / cat / 1e9,
          ours / cat);
    } finally {
      if (!a.has("--dir")) {
        deleteTree(dir);
      }
    }
    return 0;
  }

  /** Writes Gemma 2 2B's tensor layout as three float32 shards whose data are holes (no disk used). */
  static long sparseGemmaCheckpoint(Path folder) throws IOException {
    Files.createDirectories(folder);
    Files.writeString(folder.resolve("config.json"), "{\"model_type\":\"gemma2\",\"hidden_size\":2304,"
        + "\"num_hidden_layers\":26,\"num_attention_heads\":8,\"num_key_value_heads\":4,\"head_dim\":256,"
        + "\"query_pre_attn_scalar\":256,\"sliding_window\":4096,\"attn_logit_softcapping\":50.0}");
    List<Map<String, long[]>> shards = new ArrayList<>();
    for (int s = 0; s < 3; s++) {
      shards.add(new LinkedHashMap<>());
    }
    shards.get(0).put("model.embed_tokens.weight", new long[] {256000, 2304});
    for (int l = 0; l < 26; l++) {
      Map<String, long[]> sh = shards.get(l < 9 ? 0 : l < 18 ? 1 : 2);
      String p = "model.layers." + l + ".";
      for (String nm : new String[] {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
          "post_feedforward_layernorm"}) {
        sh.put(p + nm + ".weight", new long[] {2304});
      }
      sh.put(p + "self_attn.q_proj.weight", new long[] {2048, 2304});
      sh.put(p + "self_attn.k_proj.weight", new long[] {1024, 2304});
      sh.put(p + "self_attn.v_proj.weight", new long[] {1024, 2304});
      sh.put(p + "self_attn.o_proj.weight", new long[] {2304, 2048});
      sh.put(p + "mlp.gate_proj.weight", new long[] {9216, 2304});
      sh.put(p + "mlp.up_proj.weight", new long[] {9216, 2304});
      sh.put(p + "mlp.down_proj.weight", new long[] {2304, 9216});
    }
    shards.get(2).put("model.norm.weight", new long[] {2304});
    StringBuilder index = new StringBuilder("{\"weight_map\":{");
    long total = 0;
    for (int s = 0; s < 3; s++) {
      String file = "model-0000" + (s + 1) + "-of-00003.safetensors";
      StringBuilder h = new StringBuilder("{");
      long off = 0;
      for (var e : shards.get(s).entrySet()) {
        long bytes = 4 * e.getValue()[0] * (e.getValue().length > 1 ? e.getValue()[1] : 1);
        h.append(h.length() > 1 ? "," : "").append('"').append(e.getKey()).append("\":{\"dtype\":\"F32\",\"shape\":")
            .append(java.util.Arrays.toString(e.getValue()).replace(" ", "")).append(",\"data_offsets\":[").append(off)
            .append(',').append(off + bytes).append("]}");
        off += bytes;
        index.append(index.charAt(index.length() - 1) == '{' ? "" : ",").append('"').append(e.getKey()).append("\":\"")
            .append(file).append('"');
      }
      h.append('}');
      byte[] hb = h.toString().getBytes(StandardCharsets.UTF_8);
      int pad = (8 - hb.length % 8) % 8;
      try (RandomAccessFile raf = new RandomAccessFile(folder.resolve(file).toFile(), "rw")) {
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length + pad);
        raf.write(len.array());
        raf.write(hb);
        raf.write(" ".repeat(pad).getBytes(StandardCharsets.US_ASCII));
        raf.setLength(8 + hb.length + pad + off); // the data is a hole
        total += raf.length();
      }
    }
    index.append("}}");
    Files.writeString(folder.resolve("model.safetensors.index.json"), index);
    return total;
  }

  static long writeNpz(Path file, int d, int n) throws IOException {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    shapes.put("W_enc", new long[] {d, n});
    shapes.put("W_dec", new long[] {n, d});
    shapes.put("b_enc", new long[] {n});
    shapes.put("b_dec", new long[] {d});
    shapes.put("threshold", new long[] {n});
    java.util.Random rnd = new java.util.Random(1);
    try (OutputStream os = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 20);
        ZipOutputStream z = new ZipOutputStream(os)) {
      for (var e : shapes.entrySet()) {
        long numel = e.getValue()[0] * (e.getValue().length > 1 ? e.getValue()[1] : 1);
        String shp = e.getValue().length > 1 ? "(" + e.getValue()[0] + ", " + e.getValue()[1] + ")"
            : "(" + e.getValue()[0] + ",)";
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shp + ", }";
        int padTo = (64 - (10 + dict.length() + 1) % 64) % 64;
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        head.write(0x93);
        head.writeBytes("NUMPY".getBytes(StandardCharsets.US_ASCII));
        head.write(1);
        head.write(0);
        int hl = dict.length() + padTo + 1;
        head.write(hl & 0xff);
        head.write(hl >> 8);
        head.writeBytes((dict + " ".repeat(padTo) + "\n").getBytes(StandardCharsets.US_ASCII));
        byte[] data = new byte[(int) (numel * 4)];
        ByteBuffer bb = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < numel; i++) {
          bb.putFloat((float) rnd.nextGaussian());
        }
        CRC32 crc = new CRC32();
        crc.update(head.toByteArray());
        crc.update(data);
        ZipEntry ze = new ZipEntry(e.getKey() + ".npy");
        ze.setMethod(ZipEntry.STORED);
        ze.setSize(head.size() + data.length);
        ze.setCrc(crc.getValue());
        z.putNextEntry(ze);
        z.write(head.toByteArray());
        z.write(data);
        z.closeEntry();
      }
    }
    return Files.size(file);
  }

  private static double catSeconds(Path file) throws IOException {
    long t0 = System.nanoTime();
    try {
      Process p = new ProcessBuilder("sh", "-c", "cat \"$0\" > /dev/null", file.toString()).start();
      p.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return seconds(t0);
  }

  static double vmHwmMiB() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return Double.NaN;
  }

  private static INDArray randn(long seed, long... shape) {
    Nd4j.getRandom().setSeed(seed);
    return Nd4j.randn(DataType.FLOAT, shape);
  }

  private static double seconds(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }

  private static void deleteTree(Path dir) throws IOException {
    try (var s = Files.walk(dir)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
