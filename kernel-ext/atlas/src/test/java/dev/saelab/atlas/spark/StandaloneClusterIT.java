package dev.saelab.atlas.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The atlas on a real Spark standalone cluster started here on 127.0.0.1: a master and two workers
 * (one core each) as separate JVMs, the driver a third JVM running the packaged {@code
 * saelab-atlas.jar}. One worker is killed, with its executor, while units are in flight: the job
 * still finishes, and the Parquet it wrote equals the single-machine tables exactly, with nothing
 * lost or duplicated.
 */
class StandaloneClusterIT {
  static final Path JAR = Path.of(System.getProperty("saelab.atlas.jar"));
  static final Path LIB = Path.of(System.getProperty("saelab.atlas.lib"));

  @Test
  @Timeout(value = 8, unit = TimeUnit.MINUTES)
  void killingAWorkerMidJobLosesAndDuplicatesNothing(@TempDir Path dir) throws Exception {
    // 2 layers x 2 circuits x 2 head groups x 6 row blocks = 48 units of 600 ms each
    SyntheticTopK job = new SyntheticTopK(2, 4, 2, 48, 8, 25, 600, null);
    Path out = dir.resolve("atlas");
    long t0 = System.nanoTime();
    try (StandaloneCluster cluster = new StandaloneCluster(dir, LIB, 2)) {
      System.out.printf("cluster up in %.1f s%n", (System.nanoTime() - t0) / 1e9);
      List<String> args = new ArrayList<>();
      args.add("dev.saelab.atlas.spark.SyntheticAtlasMain");
      for (String[] kv :
          new String[][] {
            {"--master", cluster.url()},
            {"--out", out.toString()},
            {"--layers", "2"},
            {"--heads", "4"},
            {"--head-group", "2"},
            {"--features", "48"},
            {"--row-block", "8"},
            {"--top", "25"},
            {"--unit-delay-ms", "600"},
            {"--wave-units", "12"},
            {"--conf", "spark.executor.memory=512m"},
            {"--conf", "spark.driver.host=127.0.0.1"},
            {"--conf", "spark.driver.bindAddress=127.0.0.1"},
            {"--conf", "spark.cores.max=2"}
          }) {
        args.addAll(List.of(kv));
      }
      Process driver = cluster.start("driver", JAR.toString(), args);
      Path log = cluster.log("driver");
      // both executors busy (unit 3 done means the second wave of tasks is running), then kill
      StandaloneCluster.await(driver, log, "atlas: unit 3/48 done", Duration.ofMinutes(3));
      cluster.killWorker(2);
      assertFalse(cluster.worker(2).isAlive());
      assertTrue(
          driver.waitFor(5, TimeUnit.MINUTES), "driver finished: " + StandaloneCluster.tail(log));
      String text = Files.readString(log, StandardCharsets.UTF_8);
      System.out.printf("driver done at %.1f s:%n", (System.nanoTime() - t0) / 1e9);
      text.lines()
          .filter(l -> l.contains("failed") || l.contains("rerun") || l.contains("waves"))
          .forEach(System.out::println);
      assertEquals(0, driver.exitValue(), text);
      assertTrue(text.contains("atlas: unit 48/48 done"), text);
      assertTrue(text.contains("synthetic atlas: 48 units, 16 tables, 400 rows"), text);
      // the lost executor's work was rerun by the other one
      assertTrue(text.contains("failed on executor") || text.contains("rerun on executor"), text);
    }

    SparkSession spark =
        SparkAtlas.session(
            new SparkAtlas.Settings("local[1]", out.toString(), "parquet", Map.of(), 0, null));
    try {
      assertEquals(
          SparkAtlasLocalTest.reference(job), SparkAtlasLocalTest.readBack(spark, out, "parquet"));
      assertEquals(400L, spark.read().parquet(out.toString()).count());
    } finally {
      spark.stop();
    }
    assertFalse(Files.exists(out.resolve("_tmp")));
  }
}
