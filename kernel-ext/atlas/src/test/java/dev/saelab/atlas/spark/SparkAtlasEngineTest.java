package dev.saelab.atlas.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.atlas.AtlasEngine;
import dev.saelab.atlas.AtlasInputs;
import dev.saelab.atlas.AtlasProgress;
import dev.saelab.atlas.AtlasRun;
import dev.saelab.atlas.AtlasSpec;
import dev.saelab.atlas.LocalAtlasEngine;
import dev.saelab.circuits.TableWriter;
import dev.saelab.io.SaeLabException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark engine on the tiny Gemma 2 model and Gemma Scope SAEs, in local mode: its CSV equals
 * the in-process engine's files byte for byte, its Parquet holds the same rows entry for entry
 * (every dataset: tables, partners, summed circuits, spectra; labels joined), the tables equal
 * {@code saelab tables}, and a rerun computes only the partitions that are missing.
 */
class SparkAtlasEngineTest {
  static final Path D = Path.of(System.getProperty("saelab.datasets.dir", "../../datasets"));
  static final String MODEL = D.resolve("tiny-gemma2").toString();
  static final String SAES = D.resolve("tiny-gemma-scope") + "/layer_{L-1}/width_*/average_l0_*";
  static final String LABELS =
      D.resolve("tiny-neuronpedia") + "/tiny-gemma2_{L-1}-tinyscope-res-128.json";

  static final AtlasSpec SPEC =
      AtlasSpec.of(MODEL, SAES)
          .withLayers("1")
          .withTopK(30)
          .withPerFeature(3)
          .withRowsPerUnit(40)
          .withLabels(LABELS);

  @AfterAll
  static void clear() {
    AtlasInputs.clearCache();
  }

  /** Every partition file (relative path → content); markers, units and staging left out. */
  static Map<String, String> files(Path dir) {
    Map<String, String> out = new TreeMap<>();
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.filter(Files::isRegularFile).toList()) {
        String rel = dir.relativize(p).toString();
        if (!rel.startsWith("_") && !p.getFileName().toString().startsWith(".")) {
          out.put(rel, rel.endsWith(".csv") ? Files.readString(p) : "");
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /** The partition folders of {@link #files} (Spark names its files anew on every write). */
  static java.util.Set<String> folders(Map<String, String> files) {
    java.util.Set<String> out = new java.util.TreeSet<>();
    files.keySet().forEach(f -> out.add(f.substring(0, f.lastIndexOf('/'))));
    return out;
  }

  static AtlasRun spark(Path out, String format) {
    return new AtlasRun(out, format, "local[2]", 0, 1, 1);
  }

  static List<String> messages = new ArrayList<>();

  static final AtlasProgress RECORD =
      new AtlasProgress() {
        @Override
        public void unit(String id, long done, long total) {}

        @Override
        public void message(String line) {
          messages.add(line);
        }
      };

  @Test
  void theEngineIsFoundOnTheClassPath() {
    assertTrue(
        AtlasEngine.installed().stream().anyMatch(e -> e instanceof SparkAtlasEngine),
        "META-INF/services registers the Spark engine");
  }

  @Test
  void csvEqualsTheInProcessEngineByteForByte(@TempDir Path tmp) throws Exception {
    new LocalAtlasEngine().run(SPEC, AtlasRun.local(tmp.resolve("local")), AtlasProgress.NONE);
    AtlasRun.Summary s =
        new SparkAtlasEngine().run(SPEC, spark(tmp.resolve("spark"), "csv"), RECORD);
    // 4 heads x 4 blocks (128 rows by 40) x 2 circuits + 2 sums + 2 spectra
    assertEquals(36, s.units());
    assertEquals(36, s.computed());
    assertTrue(s.merged());
    Map<String, String> local = files(tmp.resolve("local"));
    assertTrue(
        local.containsKey("partners/layer=1/head=3/circuit=ov/part-0.csv"), local.keySet() + "");
    assertEquals(local, files(tmp.resolve("spark")));
    assertTrue(Files.exists(tmp.resolve("spark/_SUCCESS")));
    assertFalse(Files.exists(tmp.resolve("spark/_tmp")));
  }

  /** A Parquet value as the CSV writes it. */
  static String cell(Object v) {
    return v instanceof String s ? TableWriter.quote(s) : String.valueOf(v);
  }

  static String line(Row r, String[] header) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < header.length; i++) {
      if (i > 0) {
        sb.append(',');
      }
      sb.append(cell(r.get(r.fieldIndex(header[i]))));
    }
    return sb.toString();
  }

  /** The same from the in-process engine's CSV files, columns in the Parquet's order. */
  static Map<String, List<String>> csv(Path atlas, String dataset, String circuit, String[] order) {
    Map<String, List<String>> out = new TreeMap<>();
    files(atlas)
        .forEach(
            (rel, text) -> {
              if (!rel.startsWith(dataset + "/") || !rel.contains("/circuit=" + circuit + "/")) {
                return;
              }
              String[] lines = text.split("\n");
              List<String> header = Arrays.asList(lines[0].split(","));
              for (String c : order) {
                assertTrue(header.contains(c), rel + ": " + header + " has no " + c);
              }
              List<String> rows = new ArrayList<>();
              for (int i = 1; i < lines.length; i++) {
                List<String> cells = splitCsv(lines[i]);
                StringBuilder sb = new StringBuilder();
                for (int c = 0; c < order.length; c++) {
                  if (c > 0) {
                    sb.append(',');
                  }
                  sb.append(cells.get(header.indexOf(order[c])));
                }
                rows.add(sb.toString());
              }
              rows.sort(null);
              out.put(rel.substring(0, rel.lastIndexOf('/')), rows);
            });
    return out;
  }

  /** Splits an RFC 4180 line, keeping each cell's quoting as written. */
  static List<String> splitCsv(String line) {
    List<String> cells = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    boolean quoted = false;
    for (char ch : line.toCharArray()) {
      if (ch == '"') {
        quoted = !quoted;
      }
      if (ch == ',' && !quoted) {
        cells.add(cur.toString());
        cur.setLength(0);
      } else {
        cur.append(ch);
      }
    }
    cells.add(cur.toString());
    return cells;
  }

  /**
   * Every partition of every dataset of the Parquet atlas {@code out} holds the rows of the
   * in-process engine's CSV atlas {@code local}, entry for entry; and its tables those of {@code
   * saelab tables} in {@code tables} ({@code qk.csv}, {@code ov.csv}).
   */
  static void assertSameRows(SparkSession spark, Path out, Path local, Path tables)
      throws IOException {
    for (String[] d :
        new String[][] {
          {"table", "layer", "head", "circuit"},
          {"partners", "layer", "head", "circuit"},
          {"summary", "layer", "circuit"},
          {"spectra", "layer", "circuit"}
        }) {
      List<String> by = List.of(d).subList(1, d.length);
      // per circuit: QK and OV name their feature columns differently
      for (String c : new String[] {"qk", "ov"}) {
        Path ds = out.resolve(d[0]);
        Dataset<Row> df =
            spark
                .read()
                .option("mergeSchema", "true")
                .parquet(ds.toString())
                .where("circuit = '" + c + "'");
        String[] cols =
            Arrays.stream(df.columns())
                .filter(x -> !df.where(df.col(x).isNotNull()).isEmpty())
                .toArray(String[]::new);
        Map<String, List<String>> got = new TreeMap<>();
        for (Row r : df.collectAsList()) {
          StringBuilder dir = new StringBuilder(d[0]);
          for (String p : by) {
            dir.append('/').append(p).append('=').append(r.get(r.fieldIndex(p)));
          }
          got.computeIfAbsent(dir.toString(), k -> new ArrayList<>()).add(line(r, cols));
        }
        got.values().forEach(l -> l.sort(null));
        Map<String, List<String>> want = csv(local, d[0], c, cols);
        assertEquals(want.keySet(), got.keySet(), d[0] + " " + c);
        assertEquals(want, got, d[0] + " " + c + ": every row");
        assertFalse(want.isEmpty());
        if (d[0].equals("table")) {
          // and the same rows as `saelab tables`, every digit
          String[] lines = Files.readString(tables.resolve(c + ".csv")).split("\n");
          List<String> ref = new ArrayList<>(Arrays.asList(lines).subList(1, lines.length));
          ref.sort(null);
          String[] header = lines[0].split(",");
          List<String> rows = new ArrayList<>();
          df.collectAsList().forEach(r -> rows.add(line(r, header)));
          rows.sort(null);
          assertEquals(ref, rows, "saelab tables " + c);
        }
      }
    }
  }

  @Test
  void parquetHoldsTheSameRowsEntryForEntry(@TempDir Path tmp) throws Exception {
    Path local = tmp.resolve("local");
    new LocalAtlasEngine().run(SPEC, AtlasRun.local(local), AtlasProgress.NONE);
    Path out = tmp.resolve("spark");
    new SparkAtlasEngine().run(SPEC, spark(out, "parquet"), RECORD);
    // the single-machine tables of the same layer and SAEs: `saelab tables`
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    int code =
        dev.saelab.cli.Main.run(
            new String[] {
              "tables",
              "--model",
              MODEL,
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
              tmp.resolve("t").toString()
            },
            new PrintStream(o, true, StandardCharsets.UTF_8),
            new PrintStream(o, true, StandardCharsets.UTF_8));
    assertEquals(0, code, o.toString(StandardCharsets.UTF_8));
    SparkSession spark =
        SparkAtlas.session(new SparkAtlas.Settings("local[1]", out, "parquet", Map.of(), 0));
    try {
      assertSameRows(spark, out, local, tmp.resolve("t"));
      // one schema per dataset: every file has QK's and OV's columns (null where not its own), so
      // that a reader that takes the first file's schema (pyarrow) loses nothing
      for (String d : new String[] {"table", "partners", "summary", "spectra"}) {
        List<Path> parts;
        try (Stream<Path> w = Files.walk(out.resolve(d))) {
          parts = w.filter(f -> f.toString().endsWith(".parquet")).toList();
        }
        assertTrue(parts.size() >= 2, d);
        java.util.Set<java.util.Set<String>> schemas = new java.util.HashSet<>();
        for (Path f : parts) {
          schemas.add(java.util.Set.of(spark.read().parquet(f.toString()).columns()));
        }
        assertEquals(1, schemas.size(), d + ": " + schemas);
      }
      assertTrue(
          List.of(spark.read().parquet(out.resolve("table").toString()).columns())
              .containsAll(
                  List.of("query_feature", "key_feature", "value_feature", "output_feature")));
      // the labels are joined (layer 1's input labels exist; its output labels do not)
      assertTrue(
          spark
                  .read()
                  .option("mergeSchema", "true")
                  .parquet(out.resolve("table").toString())
                  .where("circuit = 'qk' and query_label != ''")
                  .count()
              > 0);
    } finally {
      spark.stop();
    }
  }

  @Test
  void aRerunComputesOnlyTheMissingPartitions(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("a");
    AtlasSpec spec = SPEC.withLabels(null).withPerFeature(0);
    new SparkAtlasEngine().run(spec, spark(out, "parquet"), AtlasProgress.NONE);
    Map<String, String> whole = files(out);
    AtlasRun.Summary again = new SparkAtlasEngine().run(spec, spark(out, "parquet"), RECORD);
    assertEquals(36, again.skipped());
    assertEquals(0, again.computed());
    // a run killed in a wave: one partition's marker lost, a wave left in staging
    Files.delete(out.resolve("_committed/L1-H2-ov"));
    Files.createDirectories(out.resolve("_tmp/wave-x/table/layer=1/head=0/circuit=qk"));
    AtlasRun.Summary redo = new SparkAtlasEngine().run(spec, spark(out, "parquet"), RECORD);
    assertEquals(4, redo.computed(), "the 4 row blocks of L1 H2 OV");
    assertFalse(Files.exists(out.resolve("_tmp")));
    assertEquals(folders(whole), folders(files(out)));
  }

  @Test
  void otherOptionsInTheSameFolderAreOneLine(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("a");
    AtlasSpec spec =
        SPEC.withLabels(null)
            .withPerFeature(0)
            .withCircuits(java.util.EnumSet.of(dev.saelab.circuits.CircuitKind.QK));
    new SparkAtlasEngine().run(spec, spark(out, "parquet"), AtlasProgress.NONE);
    SaeLabException e =
        assertThrows(
            SaeLabException.class,
            () ->
                new SparkAtlasEngine()
                    .run(spec.withTopK(5), spark(out, "parquet"), AtlasProgress.NONE));
    assertTrue(e.getMessage().contains("holds an atlas of other options"), e.getMessage());
  }
}
