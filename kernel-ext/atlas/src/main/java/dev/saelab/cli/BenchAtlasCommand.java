package dev.saelab.cli;

import dev.saelab.atlas.AtlasInputs;
import dev.saelab.atlas.AtlasPlan;
import dev.saelab.atlas.AtlasProgress;
import dev.saelab.atlas.AtlasRun;
import dev.saelab.atlas.AtlasSpec;
import dev.saelab.atlas.LocalAtlasEngine;
import dev.saelab.atlas.spark.SparkAtlas;
import dev.saelab.atlas.spark.SparkAtlasEngine;
import java.io.IOException;
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
import java.util.Random;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code saelab bench atlas} (in {@code saelab-atlas.jar} only): the same atlas, one synthetic
 * Gemma-2-2B-shaped layer with two SAEs, run by the in-process engine and by Spark in local mode
 * with 1 and 2 executor cores: units per second and Spark's overhead against the in-process engine
 * at the same parallelism; then a projection, from the measured compute rate and overhead, of full
 * Gemma 2 2B and Gemma 3 4B sweeps at Gemma Scope 2's widths on N nodes.
 */
@Command(
    name = "atlas",
    description =
        "The atlas of one synthetic Gemma-2-2B-shaped layer (random weights, two SAEs of --features"
            + " features) by the in-process engine and by Spark in local mode with 1 and 2 cores:"
            + " units per second, Spark's overhead at the same parallelism, and a projection of"
            + " full Gemma 2 2B and Gemma 3 4B sweeps (16k, 262k, 1M features) on N nodes.",
    footer = {
      "",
      "Examples:",
      "  saelab bench atlas --features 4096 --rows-per-unit 512",
      "  saelab bench atlas --features 1024 --rows-per-unit 256 --top 100 --repeat 1",
      "  (numbers of this machine: kernel-ext/docs/performance.md)"
    })
public final class BenchAtlasCommand extends CliCommand {
  @Option(
      names = "--features",
      paramLabel = "N",
      defaultValue = "4096",
      converter = Converters.PositiveConverter.class,
      description = "features per SAE (default ${DEFAULT-VALUE})")
  int features;

  @Option(
      names = "--rows-per-unit",
      paramLabel = "N",
      defaultValue = "512",
      converter = Converters.PositiveConverter.class,
      description = "row features per work unit (default ${DEFAULT-VALUE})")
  int rowsPerUnit;

  @Option(
      names = "--top",
      paramLabel = "K",
      defaultValue = "1000",
      converter = Converters.PositiveConverter.class,
      description = "entries per head and circuit (default ${DEFAULT-VALUE})")
  int top;

  @Option(
      names = "--repeat",
      paramLabel = "N",
      defaultValue = "3",
      converter = Converters.PositiveConverter.class,
      description =
          "rounds, the engines interleaved, medians compared (default ${DEFAULT-VALUE}; a shared"
              + " machine's speed drifts within minutes)")
  int repeat;

  @Option(
      names = "--cores-per-node",
      paramLabel = "C",
      defaultValue = "64",
      converter = Converters.PositiveConverter.class,
      description = "cores per node of the projection (default ${DEFAULT-VALUE})")
  int coresPerNode;

  /** Gemma 2 2B's attention: d_model 2304, 8 heads of 256, 4 KV heads. */
  static final int D_MODEL = 2304;

  static final int HEADS = 8;
  static final int KV_HEADS = 4;
  static final int D_HEAD = 256;

  /**
   * A model of the projection.
   *
   * @param name its name
   * @param layers attention layers
   * @param heads query heads per layer
   * @param dHead the head dimension
   */
  record Sweep(String name, int layers, int heads, int dHead) {
    /** The products' multiply-adds x 2 of a whole sweep: every layer, head, QK and OV. */
    double flop(long n) {
      return 2.0 * layers * heads * 2.0 * n * n * dHead;
    }
  }

  static final List<Sweep> SWEEPS =
      List.of(new Sweep("Gemma 2 2B", 26, 8, 256), new Sweep("Gemma 3 4B", 34, 8, 256));

  @Override
  public Integer call() throws Exception {
    Path dir = Files.createTempDirectory("saelab-bench-atlas");
    try {
      Path model = dir.resolve("model");
      writeModel(model);
      for (int s = 0; s < 2; s++) {
        Files.createDirectories(dir.resolve("sae_" + s));
        BenchCommand.writeNpz(dir.resolve("sae_" + s + "/params.npz"), D_MODEL, features);
      }
      AtlasSpec spec =
          AtlasSpec.of(model.toString(), dir.resolve("sae_{L}").toString())
              .withLayers("0")
              .withTopK(top)
              .withRowsPerUnit(rowsPerUnit)
              .withSummaries(false);
      AtlasPlan plan = AtlasPlan.open(spec, err::println);
      int units = plan.units().size();
      double flop = 2.0 * HEADS * 2.0 * features * (double) features * D_HEAD;
      out.printf(
          Locale.ROOT,
          "bench atlas: one Gemma-2-2B-shaped layer (d_model %d, %d heads of %d), SAEs of %d"
              + " features, QK and OV, top %d, %d rows per unit: %d units, %.1f GFLOP; %d cores"
              + " (shared with whatever else runs here)%n",
          D_MODEL,
          HEADS,
          D_HEAD,
          features,
          top,
          rowsPerUnit,
          units,
          flop / 1e9,
          Runtime.getRuntime().availableProcessors());

      // warm-up, not timed: ND4J, the JIT, Spark's first jobs (its Parquet writer, code generation)
      new LocalAtlasEngine()
          .run(plan, new AtlasRun(dir.resolve("warm"), "csv", null, 0, 1, 1), AtlasProgress.NONE);
      AtlasInputs.clearCache();
      SparkSession warm =
          SparkAtlas.session(
              new SparkAtlas.Settings(
                  "local[2]", dir.resolve("warm-spark"), "parquet", Map.of(), 0));
      try {
        SparkAtlasEngine.runOn(
            warm,
            plan,
            new AtlasRun(dir.resolve("warm-spark"), "parquet", null, 0, 1, 1),
            AtlasProgress.NONE);
      } finally {
        warm.stop();
        AtlasInputs.clearCache();
      }

      Map<Integer, List<Double>> localRuns = new LinkedHashMap<>();
      Map<Integer, List<Double>> sparkRuns = new LinkedHashMap<>();
      Map<Integer, Double> start = new LinkedHashMap<>();
      for (int round = 0; round < repeat; round++) {
        for (int cores : new int[] {1, 2}) {
          Path lo = dir.resolve("local-" + cores + "-" + round);
          long t0 = System.nanoTime();
          new LocalAtlasEngine()
              .run(plan, new AtlasRun(lo, "csv", null, 0, 1, cores), AtlasProgress.NONE);
          localRuns
              .computeIfAbsent(cores, k -> new ArrayList<>())
              .add((System.nanoTime() - t0) / 1e9);
          AtlasInputs.clearCache();

          Path sp = dir.resolve("spark-" + cores + "-" + round);
          long t1 = System.nanoTime();
          SparkSession session =
              SparkAtlas.session(
                  new SparkAtlas.Settings("local[" + cores + "]", sp, "parquet", Map.of(), 0));
          start.merge(cores, (System.nanoTime() - t1) / 1e9, Math::max);
          try {
            long t2 = System.nanoTime();
            SparkAtlasEngine.runOn(
                session, plan, new AtlasRun(sp, "parquet", null, 0, 1, 1), AtlasProgress.NONE);
            sparkRuns
                .computeIfAbsent(cores, k -> new ArrayList<>())
                .add((System.nanoTime() - t2) / 1e9);
          } finally {
            session.stop();
            AtlasInputs.clearCache();
          }
          err.printf(
              Locale.ROOT,
              "round %d, %d at once: in-process %.2f s, Spark %.2f s%n",
              round + 1,
              cores,
              localRuns.get(cores).get(round),
              sparkRuns.get(cores).get(round));
        }
      }
      Map<Integer, Double> local = new LinkedHashMap<>();
      Map<Integer, Double> spark = new LinkedHashMap<>();
      for (int cores : new int[] {1, 2}) {
        local.put(cores, median(localRuns.get(cores)));
        spark.put(cores, median(sparkRuns.get(cores)));
      }

      out.println();
      out.println("| engine | units at once | wall s | units/s | GFLOP/s | vs in-process |");
      out.println("|---|---|---|---|---|---|");
      for (int cores : new int[] {1, 2}) {
        row("in-process (--threads " + cores + ")", cores, local.get(cores), units, flop, 1.0);
        row(
            String.format(
                Locale.ROOT, "Spark local[%d] (+%.1f s session start)", cores, start.get(cores)),
            cores,
            spark.get(cores),
            units,
            flop,
            spark.get(cores) / local.get(cores));
      }

      // projection: the in-process rate per core (its best run: every unit uses all cores through
      // BLAS), times Spark's overhead measured here
      int here = Runtime.getRuntime().availableProcessors();
      double ratePerCore = flop / Math.min(local.get(1), local.get(2)) / here;
      double overhead = Math.max(1.0, spark.get(2) / local.get(2));
      out.println();
      out.printf(
          Locale.ROOT,
          "projection: %.1f GFLOP/s per core (in-process, median), Spark overhead x%.2f (local[2],"
              + " medians);"
              + " %d-core nodes, perfect scaling across nodes, no pruning (an upper bound: the"
              + " norm-bound pruning skips work)%n",
          ratePerCore / 1e9,
          overhead,
          coresPerNode);
      int[] nodes = {1, 8, 32, 128};
      StringBuilder h = new StringBuilder("| sweep | features | PFLOP | this machine |");
      StringBuilder sep = new StringBuilder("|---|---|---|---|");
      for (int n : nodes) {
        h.append(' ').append(n).append(n == 1 ? " node |" : " nodes |");
        sep.append("---|");
      }
      out.println(h);
      out.println(sep);
      for (Sweep s : SWEEPS) {
        for (long n : new long[] {16384, 262144, 1048576}) {
          double f = s.flop(n);
          StringBuilder r =
              new StringBuilder(
                  String.format(
                      Locale.ROOT,
                      "| %s | %s | %.3g | %s |",
                      s.name(),
                      n == 16384 ? "16k" : n == 262144 ? "262k" : "1M",
                      f / 1e15,
                      duration(f / (ratePerCore * here) * overhead)));
          for (int nd : nodes) {
            r.append(' ')
                .append(duration(f / (ratePerCore * coresPerNode * nd) * overhead))
                .append(" |");
          }
          out.println(r);
        }
      }
    } finally {
      SparkAtlasEngine.deleteTree(dir);
    }
    return 0;
  }

  private void row(String name, int cores, double secs, int units, double flop, double ratio) {
    out.printf(
        Locale.ROOT,
        "| %s | %d | %.2f | %.2f | %.1f | %.2f× |%n",
        name,
        cores,
        secs,
        units / secs,
        flop / secs / 1e9,
        ratio);
  }

  static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    s.sort(null);
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
  }

  /** Seconds as a readable duration: 42 s, 17 min, 5.2 h, 3.1 days. */
  static String duration(double s) {
    if (s < 120) {
      return String.format(Locale.ROOT, "%.0f s", s);
    }
    if (s < 7200) {
      return String.format(Locale.ROOT, "%.0f min", s / 60);
    }
    if (s < 3 * 86400) {
      return String.format(Locale.ROOT, "%.1f h", s / 3600);
    }
    return String.format(Locale.ROOT, "%.1f days", s / 86400);
  }

  /**
   * A one-layer Gemma 2 checkpoint of Gemma 2 2B's attention shapes: random float32 attention
   * weights (scale 0.02), norms zero (Gemma's 1 + w), the rest as holes (no disk).
   */
  static void writeModel(Path folder) throws IOException {
    Files.createDirectories(folder);
    Files.writeString(
        folder.resolve("config.json"),
        "{\"model_type\":\"gemma2\",\"hidden_size\":"
            + D_MODEL
            + ",\"num_hidden_layers\":1,\"num_attention_heads\":"
            + HEADS
            + ",\"num_key_value_heads\":"
            + KV_HEADS
            + ",\"head_dim\":"
            + D_HEAD
            + ",\"query_pre_attn_scalar\":256,\"sliding_window\":4096,"
            + "\"attn_logit_softcapping\":50.0}");
    Map<String, long[]> shapes = new LinkedHashMap<>();
    String p = "model.layers.0.";
    shapes.put(p + "self_attn.q_proj.weight", new long[] {HEADS * D_HEAD, D_MODEL});
    shapes.put(p + "self_attn.k_proj.weight", new long[] {KV_HEADS * D_HEAD, D_MODEL});
    shapes.put(p + "self_attn.v_proj.weight", new long[] {KV_HEADS * D_HEAD, D_MODEL});
    shapes.put(p + "self_attn.o_proj.weight", new long[] {D_MODEL, HEADS * D_HEAD});
    int random = shapes.size();
    for (String nm :
        new String[] {
          "input_layernorm",
          "post_attention_layernorm",
          "pre_feedforward_layernorm",
          "post_feedforward_layernorm"
        }) {
      shapes.put(p + nm + ".weight", new long[] {D_MODEL});
    }
    shapes.put("model.norm.weight", new long[] {D_MODEL});
    shapes.put("model.embed_tokens.weight", new long[] {1024, D_MODEL});
    StringBuilder h = new StringBuilder("{");
    long off = 0;
    List<long[]> ranges = new ArrayList<>();
    for (var e : shapes.entrySet()) {
      long bytes = 4 * e.getValue()[0] * (e.getValue().length > 1 ? e.getValue()[1] : 1);
      h.append(h.length() > 1 ? "," : "")
          .append('"')
          .append(e.getKey())
          .append("\":{\"dtype\":\"F32\",\"shape\":")
          .append(java.util.Arrays.toString(e.getValue()).replace(" ", ""))
          .append(",\"data_offsets\":[")
          .append(off)
          .append(',')
          .append(off + bytes)
          .append("]}");
      ranges.add(new long[] {off, bytes});
      off += bytes;
    }
    h.append('}');
    byte[] hb = h.toString().getBytes(StandardCharsets.UTF_8);
    int pad = (8 - hb.length % 8) % 8;
    Random rnd = new Random(7);
    try (RandomAccessFile raf =
        new RandomAccessFile(folder.resolve("model.safetensors").toFile(), "rw")) {
      raf.write(
          ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length + pad).array());
      raf.write(hb);
      raf.write(" ".repeat(pad).getBytes(StandardCharsets.US_ASCII));
      long base = 8 + hb.length + pad;
      for (int t = 0; t < random; t++) {
        long[] r = ranges.get(t);
        ByteBuffer bb = ByteBuffer.allocate((int) r[1]).order(ByteOrder.LITTLE_ENDIAN);
        while (bb.hasRemaining()) {
          bb.putFloat((float) (0.02 * rnd.nextGaussian()));
        }
        raf.seek(base + r[0]);
        raf.write(bb.array());
      }
      raf.setLength(base + off); // norms and embeddings are holes: zeros
    }
  }
}
