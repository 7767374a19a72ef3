package dev.saelab.atlas.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.atlas.AtlasProgress;
import dev.saelab.io.SaeLabException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine in local mode on the stand-in atlas ({@link SyntheticTopK}): the Parquet read back
 * equals a plain sort of every entry (ties at the cut included), reruns skip finished partitions,
 * leftovers of a killed run are cleaned, a damaged input stops the job with its one-line error.
 */
class SparkAtlasLocalTest {
  static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkAtlas.session(settings(Path.of("unused"), "parquet"));
  }

  @AfterAll
  static void stop() {
    if (spark != null) {
      spark.stop();
    }
  }

  static SparkAtlas.Settings settings(Path out, String format) {
    return new SparkAtlas.Settings("local[2]", out, format, Map.of(), 8);
  }

  static final SyntheticTopK JOB = new SyntheticTopK(2, 4, 48, 16, 25, 0, null);

  /** Every table's top K by a plain sort of all n x n entries: value desc, row asc, col asc. */
  static Map<String, List<String>> reference(SyntheticTopK job) {
    Map<String, List<String>> ref = new TreeMap<>();
    for (int l = 0; l < job.layers(); l++) {
      for (String c : SyntheticTopK.CIRCUITS) {
        for (int h = 0; h < job.heads(); h++) {
          List<double[]> all = new ArrayList<>();
          for (int i = 0; i < job.features(); i++) {
            for (int j = 0; j < job.features(); j++) {
              all.add(new double[] {SyntheticTopK.value(l, h, c, i, j), i, j});
            }
          }
          all.sort(
              Comparator.<double[]>comparingDouble(e -> -e[0])
                  .thenComparingDouble(e -> e[1])
                  .thenComparingDouble(e -> e[2]));
          // the coarse grid puts ties at the cut: the tie order is what is tested
          assertTrue(all.get(job.top() - 1)[0] == all.get(job.top())[0] || h > 0 || l > 0);
          List<String> rows = new ArrayList<>();
          for (int r = 0; r < job.top(); r++) {
            double[] e = all.get(r);
            rows.add((r + 1) + "," + (int) e[1] + "," + (int) e[2] + "," + e[0]);
          }
          ref.put("L" + l + "-H" + h + "-" + c, rows);
        }
      }
    }
    return ref;
  }

  /** The atlas in {@code dir}, read back with Spark, per table in rank order. */
  static Map<String, List<String>> readBack(SparkSession spark, Path dir, String format) {
    Map<String, List<String>> got = new TreeMap<>();
    var df =
        spark
            .read()
            .format(format)
            .option("header", "true")
            .option("inferSchema", "true")
            .load(dir.resolve("table").toString());
    for (Row r :
        df.select("layer", "head", "circuit", "rank", "query_feature", "key_feature", "value")
            .orderBy("layer", "circuit", "head", "rank")
            .collectAsList()) {
      got.computeIfAbsent(
              "L" + r.getInt(0) + "-H" + r.getInt(1) + "-" + r.getString(2), k -> new ArrayList<>())
          .add(r.getInt(3) + "," + r.getInt(4) + "," + r.getInt(5) + "," + r.getDouble(6));
    }
    return got;
  }

  /** Progress lines, as a list. */
  static AtlasProgress record(List<String> lines) {
    return new AtlasProgress() {
      @Override
      public synchronized void unit(String id, long done, long total) {
        lines.add(done + "/" + total + " " + id);
      }

      @Override
      public synchronized void message(String line) {
        lines.add(line);
      }
    };
  }

  @Test
  void parquetEqualsThePlainSortEntryForEntry(@TempDir Path dir) {
    List<String> log = new ArrayList<>();
    SparkAtlas.Summary s =
        SparkAtlas.run(spark, JOB, settings(dir.resolve("atlas"), "parquet"), record(log));
    assertEquals(JOB.units().size(), s.computed());
    assertEquals(48, s.units());
    assertEquals(16, s.partitions());
    assertEquals(reference(JOB), readBack(spark, dir.resolve("atlas"), "parquet"));
    assertTrue(
        log.contains("48/48 L1-H3-ov-r32-48") || log.stream().anyMatch(l -> l.startsWith("48/48 ")),
        log + "");
    assertTrue(log.stream().anyMatch(l -> l.endsWith(" L1-H3-ov-r32-48")), log + "");
    assertTrue(Files.isRegularFile(dir.resolve("atlas/_committed/L1-H3-ov")));
    assertFalse(Files.exists(dir.resolve("atlas/_tmp")), "staging removed");
  }

  @Test
  void csvHoldsTheSameRows(@TempDir Path dir) {
    SparkAtlas.run(spark, JOB, settings(dir, "csv"), AtlasProgress.NONE);
    assertEquals(reference(JOB), readBack(spark, dir, "csv"));
    assertTrue(Files.isRegularFile(dir.resolve("table/layer=0/head=2/circuit=ov/part-0.csv")));
  }

  @Test
  void rerunSkipsFinishedPartitionsAndRedoesTheMissingOnes(@TempDir Path dir) throws IOException {
    SparkAtlas.run(spark, JOB, settings(dir, "parquet"), AtlasProgress.NONE);
    SparkAtlas.Summary again =
        SparkAtlas.run(spark, JOB, settings(dir, "parquet"), AtlasProgress.NONE);
    assertEquals(0, again.computed());
    assertEquals(48, again.skipped());

    // a killed run: one partition's marker never written (its folder may be there or not), and a
    // wave left in staging
    Files.delete(dir.resolve("_committed/L0-H1-qk"));
    Files.delete(dir.resolve("_committed/L1-H2-ov"));
    deleteTree(dir.resolve("table/layer=1/head=2/circuit=ov"));
    Path stale = dir.resolve("_tmp/wave-x/table/layer=0/head=0/circuit=qk");
    Files.createDirectories(stale);
    Files.writeString(stale.resolve("part-0.parquet"), "half written");
    List<String> log = new ArrayList<>();
    SparkAtlas.Summary redo = SparkAtlas.run(spark, JOB, settings(dir, "parquet"), record(log));
    assertEquals(6, redo.computed(), log + "");
    assertEquals(2, redo.partitions());
    assertFalse(Files.exists(dir.resolve("_tmp")));
    assertEquals(reference(JOB), readBack(spark, dir, "parquet"));
  }

  @Test
  void damagedInputStopsWithTheOneLineErrorNamingTheFile(@TempDir Path dir) throws IOException {
    SyntheticTopK bad = new SyntheticTopK(1, 2, 8, 8, 3, 0, "/data/sae/layer_0.npz");
    SaeLabException e =
        assertThrows(
            SaeLabException.class,
            () -> SparkAtlas.run(spark, bad, settings(dir, "parquet"), AtlasProgress.NONE));
    assertEquals("/data/sae/layer_0.npz: not a zip archive (damaged or truncated)", e.getMessage());
    try (Stream<Path> s = Files.list(dir)) {
      assertTrue(s.noneMatch(p -> p.getFileName().toString().equals("table")));
    }
  }

  static void deleteTree(Path p) throws IOException {
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(q);
      }
    }
  }
}
