package dev.saelab.atlas.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.io.SaeLabException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
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
 * The engine in local mode on the stand-in atlas: the Parquet read back equals a plain sort of
 * every entry, reruns skip finished tables, leftovers of a killed run are cleaned, a damaged input
 * stops the job with its one-line error.
 */
class SparkAtlasLocalTest {
  static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkAtlas.session(settings("unused", "parquet", null));
  }

  @AfterAll
  static void stop() {
    if (spark != null) {
      spark.stop();
    }
  }

  static SparkAtlas.Settings settings(String out, String format, PrintStream err) {
    return new SparkAtlas.Settings("local[2]", out, format, Map.of(), 3, err);
  }

  static final SyntheticTopK JOB = new SyntheticTopK(2, 4, 2, 48, 16, 25, 0, null);

  /** Every table's top K by a plain sort of all n x n entries: value desc, row asc, col asc. */
  static Map<TableKey, List<String>> reference(SyntheticTopK job) {
    Map<TableKey, List<String>> ref = new TreeMap<>();
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
          List<String> rows = new ArrayList<>();
          for (int r = 0; r < job.top(); r++) {
            double[] e = all.get(r);
            rows.add((r + 1) + "," + (int) e[1] + "," + (int) e[2] + "," + e[0]);
          }
          ref.put(new TableKey(l, h, c), rows);
        }
      }
    }
    return ref;
  }

  /** The atlas in {@code dir}, read back with Spark, per table in rank order. */
  static Map<TableKey, List<String>> readBack(SparkSession spark, Path dir, String format) {
    Map<TableKey, List<String>> got = new TreeMap<>();
    var df =
        spark
            .read()
            .format(format)
            .option("header", "true")
            .option("inferSchema", "true")
            .load(dir.toString());
    for (Row r :
        df.select("layer", "head", "circuit", "rank", "query_feature", "key_feature", "value")
            .orderBy("layer", "circuit", "head", "rank")
            .collectAsList()) {
      got.computeIfAbsent(
              new TableKey(r.getInt(0), r.getInt(1), r.getString(2)), k -> new ArrayList<>())
          .add(r.getInt(3) + "," + r.getInt(4) + "," + r.getInt(5) + "," + r.getDouble(6));
    }
    return got;
  }

  @Test
  void parquetEqualsThePlainSortEntryForEntry(@TempDir Path dir) {
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    SparkAtlas.Summary s =
        SparkAtlas.run(
            spark,
            JOB,
            settings(
                dir.resolve("atlas").toString(),
                "parquet",
                new PrintStream(log, true, StandardCharsets.UTF_8)));
    assertEquals(JOB.units().size(), s.units());
    assertEquals(16, s.tables());
    assertEquals(16L * 25, s.rows());
    Map<TableKey, List<String>> ref = reference(JOB);
    assertEquals(ref, readBack(spark, dir.resolve("atlas"), "parquet"));
    // the reference has ties at the cut (the grid is coarse): the tie order is what is tested
    String text = log.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("unit " + s.units() + "/" + s.units() + " done"), text);
    assertTrue(text.contains("(L1 H2-3 ov rows 32-47)"), text);
    assertTrue(Files.isRegularFile(dir.resolve("atlas/layer=1/head=3/circuit=ov/_done")));
    assertFalse(Files.exists(dir.resolve("atlas/_tmp")), "staging removed");
  }

  @Test
  void csvHoldsTheSameRows(@TempDir Path dir) {
    SparkAtlas.run(spark, JOB, settings(dir.toString(), "csv", null));
    assertEquals(reference(JOB), readBack(spark, dir, "csv"));
  }

  @Test
  void rerunSkipsFinishedTablesAndRedoesTheMissingOnes(@TempDir Path dir) throws IOException {
    SparkAtlas.run(spark, JOB, settings(dir.toString(), "parquet", null));
    SparkAtlas.Summary again =
        SparkAtlas.run(spark, JOB, settings(dir.toString(), "parquet", null));
    assertEquals(0, again.units());
    assertEquals(JOB.units().size(), again.skippedUnits());

    // a killed run: one partition gone, one without its marker (not left by this writer, but
    // possible by hand), and a wave in staging
    deleteTree(dir.resolve("layer=0/head=1/circuit=qk"));
    Files.delete(dir.resolve("layer=1/head=2/circuit=ov/_done"));
    Path stale = dir.resolve("_tmp/wave-x/layer=0/head=0/circuit=qk");
    Files.createDirectories(stale);
    Files.writeString(stale.resolve("part-0.parquet"), "half written");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    SparkAtlas.Summary redo =
        SparkAtlas.run(
            spark,
            JOB,
            settings(
                dir.toString(), "parquet", new PrintStream(log, true, StandardCharsets.UTF_8)));
    // head group 0-1 of L0 qk (3 row blocks) and head group 2-3 of L1 ov (3 row blocks)
    assertEquals(6, redo.units(), log.toString(StandardCharsets.UTF_8));
    assertEquals(2, redo.tables());
    assertFalse(Files.exists(dir.resolve("_tmp")));
    assertEquals(reference(JOB), readBack(spark, dir, "parquet"));
  }

  @Test
  void damagedInputStopsWithTheOneLineErrorNamingTheFile(@TempDir Path dir) {
    SyntheticTopK bad = new SyntheticTopK(1, 2, 2, 8, 8, 3, 0, "/data/sae/layer_0.npz");
    SaeLabException e =
        assertThrows(
            SaeLabException.class,
            () -> SparkAtlas.run(spark, bad, settings(dir.toString(), "parquet", null)));
    assertEquals("/data/sae/layer_0.npz: not a zip archive (damaged or truncated)", e.getMessage());
    try (Stream<Path> s = Files.list(dir)) {
      assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith("layer=")));
    } catch (IOException x) {
      throw new java.io.UncheckedIOException(x);
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
