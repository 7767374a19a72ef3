package dev.saelab.atlas.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.atlas.AtlasInputs;
import dev.saelab.atlas.AtlasProgress;
import dev.saelab.atlas.AtlasRun;
import dev.saelab.atlas.AtlasSpec;
import dev.saelab.atlas.LocalAtlasEngine;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code saelab atlas} on a real Spark standalone cluster started here on 127.0.0.1: a master and
 * two workers (one core each) as separate JVMs, and the driver a third JVM running the packaged
 * {@code java -jar saelab-atlas.jar atlas --master spark://...}. One worker is killed, with its
 * executor, while units are in flight: the job still finishes, and its Parquet equals the
 * single-machine tables exactly (every dataset, entry for entry), nothing lost or duplicated.
 */
class StandaloneClusterIT {
  static final Path JAR = Path.of(System.getProperty("saelab.atlas.jar"));
  static final Path LIB = Path.of(System.getProperty("saelab.atlas.lib"));
  static final Path D = SparkAtlasEngineTest.D.toAbsolutePath();

  @Test
  @Timeout(value = 10, unit = TimeUnit.MINUTES)
  void killingAWorkerMidJobLosesAndDuplicatesNothing(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("atlas");
    // layer 1: 4 heads x 8 row blocks x 2 circuits + 2 sums + 2 spectra = 68 units, 300 ms each
    List<String> atlas =
        List.of(
            "atlas",
            "--model",
            D.resolve("tiny-gemma2").toString(),
            "--layers",
            "1",
            "--saes",
            D.resolve("tiny-gemma-scope") + "/layer_{L-1}/width_*/average_l0_*",
            "--labels",
            D.resolve("tiny-neuronpedia") + "/tiny-gemma2_{L-1}-tinyscope-res-128.json",
            "--top",
            "30",
            "--per-feature",
            "3",
            "--rows-per-unit",
            "16");
    long t0 = System.nanoTime();
    String text;
    try (StandaloneCluster cluster = new StandaloneCluster(dir, LIB, 2)) {
      System.out.printf("cluster up in %.1f s%n", (System.nanoTime() - t0) / 1e9);
      List<String> args = new ArrayList<>();
      args.add("-Dspark.driver.host=127.0.0.1");
      args.add("-Dspark.executor.memory=512m");
      args.add("-Dspark.cores.max=2");
      args.add("-Dspark.executor.extraJavaOptions=-Dsaelab.atlas.testUnitDelayMs=300");
      args.add("-jar");
      args.add(JAR.toString());
      args.addAll(atlas);
      args.addAll(List.of("--master", cluster.url(), "--out", out.toString()));
      Process driver = cluster.start("driver", null, args);
      Path log = cluster.log("driver");
      // both executors busy, a few units done: kill worker 2 and its executor
      awaitUnits(driver, log, 6);
      cluster.killWorker(2);
      assertFalse(cluster.worker(2).isAlive());
      System.out.printf("worker 2 killed at %.1f s%n", (System.nanoTime() - t0) / 1e9);
      assertTrue(
          driver.waitFor(6, TimeUnit.MINUTES), "driver finished: " + StandaloneCluster.tail(log));
      text = Files.readString(log, StandardCharsets.UTF_8);
      System.out.printf("driver done at %.1f s%n", (System.nanoTime() - t0) / 1e9);
      text.lines()
          .filter(
              l -> l.contains("failed on executor") || l.contains("rerun") || l.contains("wrote"))
          .forEach(System.out::println);
      assertEquals(0, driver.exitValue(), text);
    }
    assertTrue(text.contains("wrote atlas " + out + ": 68 units (68 computed"), text);
    // the lost executor's work was run again elsewhere: its units in flight fail over, or, when the
    // kill lands between stages, its finished outputs are lost with it and recomputed (timing
    // decides)
    assertTrue(text.contains("failed on executor") || text.contains("rerun on executor"), text);

    // the single-machine atlas and tables of the same spec, in this JVM
    Path local = dir.resolve("local");
    AtlasSpec spec =
        AtlasSpec.of(atlas.get(2), atlas.get(6))
            .withLayers("1")
            .withLabels(atlas.get(8))
            .withTopK(30)
            .withPerFeature(3)
            .withRowsPerUnit(16);
    new LocalAtlasEngine().run(spec, AtlasRun.local(local), AtlasProgress.NONE);
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    PrintStream ps = new PrintStream(o, true, StandardCharsets.UTF_8);
    assertEquals(
        0,
        dev.saelab.cli.Main.run(
            new String[] {
              "tables",
              "--model",
              atlas.get(2),
              "--layer",
              "1",
              "--sae-in",
              D.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12").toString(),
              "--sae-out",
              D.resolve("tiny-gemma-scope/layer_1/width_96/average_l0_9").toString(),
              "--top",
              "30",
              "--quiet",
              "--out",
              dir.resolve("t").toString()
            },
            ps,
            ps),
        o.toString(StandardCharsets.UTF_8));
    AtlasInputs.clearCache();
    SparkSession spark =
        SparkAtlas.session(new SparkAtlas.Settings("local[1]", out, "parquet", Map.of(), 0));
    try {
      SparkAtlasEngineTest.assertSameRows(spark, out, local, dir.resolve("t"));
      // nothing duplicated: each table has exactly its 30 entries, ranks 1..30 once
      assertEquals(
          8L * 30, spark.read().option("mergeSchema", "true").parquet(out + "/table").count());
      assertEquals(
          8L * 30,
          spark
              .read()
              .option("mergeSchema", "true")
              .parquet(out + "/table")
              .select("layer", "head", "circuit", "rank")
              .distinct()
              .count());
    } finally {
      spark.stop();
    }
    assertFalse(Files.exists(out.resolve("_tmp")));
    assertTrue(Files.exists(out.resolve("_SUCCESS")));
  }

  private static final Pattern UNITS = Pattern.compile("\\((\\d+)/68 units\\)");

  /** Waits until the driver's progress shows at least {@code n} units done. */
  static void awaitUnits(Process driver, Path log, int n) throws Exception {
    long end = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
    while (System.nanoTime() < end) {
      if (Files.exists(log)) {
        Matcher m = UNITS.matcher(Files.readString(log, StandardCharsets.UTF_8));
        int done = 0;
        while (m.find()) {
          done = Math.max(done, Integer.parseInt(m.group(1)));
        }
        if (done >= n) {
          return;
        }
      }
      if (!driver.isAlive()) {
        throw new IllegalStateException("driver exited: " + StandaloneCluster.tail(log));
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("no " + n + " units done: " + StandaloneCluster.tail(log));
  }
}
