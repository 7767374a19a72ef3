package dev.saelab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.atlas.AtlasInputs;
import dev.saelab.atlas.AtlasProgress;
import dev.saelab.atlas.AtlasRun;
import dev.saelab.atlas.AtlasSpec;
import dev.saelab.atlas.AtlasWriter;
import dev.saelab.atlas.LocalAtlasEngine;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code saelab atlas} and {@code atlas-merge}: the partitions equal {@code saelab tables}; a rerun
 * skips finished units and an interrupted run resumes to the same output; shards plus merge equal a
 * single run; bad input is one line.
 */
class AtlasCommandTest {
  static final Path D = TestFiles.datasets();
  static final String MODEL = D.resolve("tiny-gemma2").toString();
  static final String SAES = D.resolve("tiny-gemma-scope") + "/layer_{L-1}/width_*/average_l0_*";

  @AfterAll
  static void clear() {
    AtlasInputs.clearCache();
  }

  static String[] atlas(Path out, String... extra) {
    List<String> a =
        new ArrayList<>(
            List.of(
                "atlas",
                "--model",
                MODEL,
                "--layers",
                "1",
                "--saes",
                SAES,
                "--format",
                "csv",
                "--quiet",
                "--out",
                out.toString()));
    a.addAll(List.of(extra));
    return InspectCommandTest.run(a.toArray(new String[0]));
  }

  /** Every file under the partitions (relative path → content); markers and units left out. */
  static Map<String, String> partitions(Path dir) {
    Map<String, String> out = new TreeMap<>();
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.filter(Files::isRegularFile).toList()) {
        String rel = dir.relativize(p).toString();
        if (!rel.startsWith("_")) {
          out.put(rel, Files.readString(p));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  static String body(String csv) {
    return csv.substring(csv.indexOf('\n') + 1);
  }

  @Test
  void partitionsEqualTheTablesCommand(@TempDir Path tmp) throws IOException {
    String[] r = atlas(tmp.resolve("a"), "--top", "50", "--rows-per-unit", "17");
    assertEquals("0", r[0], r[2]);
    String[] t =
        InspectCommandTest.run(
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
            "50",
            "--quiet",
            "--out",
            tmp.resolve("t").toString());
    assertEquals("0", t[0], t[2]);
    for (String c : new String[] {"qk", "ov"}) {
      String ref = Files.readString(tmp.resolve("t/" + c + ".csv"));
      StringBuilder joined = new StringBuilder();
      String header = null;
      for (int h = 0; h < 4; h++) {
        String part =
            Files.readString(
                tmp.resolve("a/table/layer=1/head=" + h + "/circuit=" + c + "/part-0.csv"));
        header = part.substring(0, part.indexOf('\n') + 1);
        joined.append(body(part));
      }
      assertEquals(ref.substring(0, ref.indexOf('\n') + 1), header, c);
      assertEquals(body(ref), joined.toString(), c + ": every row, every digit");
    }
    // the summed circuit as `tables --heads sum --breakdown` writes it
    t =
        InspectCommandTest.run(
            "qk",
            "--model",
            MODEL,
            "--layer",
            "1",
            "--sae-in",
            D.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12").toString(),
            "--heads",
            "sum",
            "--breakdown",
            "--top",
            "50",
            "--quiet",
            "--out",
            tmp.resolve("sum.csv").toString());
    assertEquals("0", t[0], t[2]);
    assertEquals(
        Files.readString(tmp.resolve("sum.csv")),
        Files.readString(tmp.resolve("a/summary/layer=1/circuit=qk/part-0.csv")));
    assertTrue(Files.exists(tmp.resolve("a/_SUCCESS")));
  }

  @Test
  void aRerunSkipsFinishedUnitsAndAnInterruptedRunResumes(@TempDir Path tmp) throws Exception {
    Path a = tmp.resolve("a");
    String[] r = atlas(a, "--top", "20", "--per-feature", "3", "--rows-per-unit", "50");
    assertEquals("0", r[0], r[2]);
    Map<String, String> whole = partitions(a);
    // 4 heads × 3 blocks × 2 circuits + 2 sums + 2 spectra
    assertTrue(r[1].contains("28 units (28 computed, 0 finished earlier)"), r[1]);
    // lose three markers: exactly those three units are computed again
    List<Path> markers;
    try (Stream<Path> s = Files.list(a.resolve("_done"))) {
      markers = s.sorted().toList();
    }
    for (int i : new int[] {0, 5, 27}) {
      Files.delete(markers.get(i));
    }
    r = atlas(a, "--top", "20", "--per-feature", "3", "--rows-per-unit", "50");
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains("28 units (3 computed, 25 finished earlier)"), r[1]);
    assertEquals(whole, partitions(a));

    // a crash after 5 units: what finished stays, the rerun computes the rest, same output
    Path b = tmp.resolve("b");
    AtlasSpec spec =
        AtlasSpec.of(MODEL, SAES)
            .withLayers("1")
            .withTopK(20)
            .withPerFeature(3)
            .withRowsPerUnit(50);
    AtlasProgress crash =
        new AtlasProgress() {
          @Override
          public void unit(String id, long done, long total) {
            if (done == 5) {
              throw new java.util.concurrent.CancellationException("simulated crash");
            }
          }

          @Override
          public void message(String line) {}
        };
    assertThrows(
        java.util.concurrent.CancellationException.class,
        () -> new LocalAtlasEngine().run(spec, AtlasRun.local(b), crash));
    assertFalse(Files.exists(b.resolve("_SUCCESS")));
    assertFalse(Files.exists(b.resolve("table")), "no partition before every unit is done");
    long finished;
    try (Stream<Path> s = Files.list(b.resolve("_done"))) {
      finished = s.count();
    }
    assertTrue(finished >= 5 && finished < 28, "finished " + finished);
    AtlasRun.Summary s = new LocalAtlasEngine().run(spec, AtlasRun.local(b), AtlasProgress.NONE);
    assertEquals(28, s.units());
    assertEquals(finished, s.skipped());
    assertEquals(28 - finished, s.computed());
    assertEquals(whole, partitions(b));
  }

  @Test
  void shardsAndMergeEqualASingleRun(@TempDir Path tmp) {
    String[] opts = {"--top", "30", "--per-feature", "2", "--rows-per-unit", "45"};
    String[] r = atlas(tmp.resolve("one"), opts);
    assertEquals("0", r[0], r[2]);
    Path sh = tmp.resolve("sharded");
    for (int i = 0; i < 3; i++) {
      List<String> a = new ArrayList<>(List.of(opts));
      a.addAll(List.of("--shard", i + "/3"));
      r = atlas(sh, a.toArray(new String[0]));
      assertEquals("0", r[0], r[2]);
      assertTrue(r[1].contains("saelab atlas-merge " + sh), r[1]);
    }
    assertTrue(partitions(sh).isEmpty(), "shards write units only");
    r = InspectCommandTest.run("atlas-merge", sh.toString());
    assertEquals("0", r[0], r[2]);
    assertEquals(partitions(tmp.resolve("one")), partitions(sh));
  }

  @Test
  void mergeBeforeEveryShardIsDoneSaysWhatIsMissing(@TempDir Path tmp) {
    Path sh = tmp.resolve("s");
    String[] r = atlas(sh, "--top", "5", "--no-summaries", "--shard", "1/2");
    assertEquals("0", r[0], r[2]);
    r = InspectCommandTest.run("atlas-merge", sh.toString());
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("4 of 8 units not finished (first L1-H0-qk-r0-128)"), r[2]);
  }

  static void oneLine(String[] r, String... parts) {
    assertEquals("2", r[0], r[2]);
    assertEquals(1, r[2].strip().lines().count(), r[2]);
    for (String p : parts) {
      assertTrue(r[2].contains(p), r[2]);
    }
  }

  @Test
  void badInputIsOneLine(@TempDir Path tmp) throws IOException {
    oneLine(
        InspectCommandTest.run(
            "atlas",
            "--model",
            MODEL,
            "--layers",
            "1-5",
            "--saes",
            SAES,
            "--format",
            "csv",
            "--out",
            tmp.resolve("x").toString()),
        "layers 1-5: the model has layers 0..1");
    oneLine(
        InspectCommandTest.run(
            "atlas",
            "--model",
            MODEL,
            "--saes",
            D.resolve("tiny-gemma-scope").toString(),
            "--format",
            "csv",
            "--out",
            tmp.resolve("x").toString()),
        "expected {L}");
    // layer 0 reads resid_post of layer -1: no such SAE
    oneLine(
        InspectCommandTest.run(
            "atlas",
            "--model",
            MODEL,
            "--layers",
            "0,1",
            "--saes",
            SAES,
            "--format",
            "csv",
            "--out",
            tmp.resolve("x").toString()),
        "layer 0: no input SAE at",
        "layer_-1");
    // a damaged SAE: the file is named
    Path scope = tmp.resolve("scope/layer_0/width_128/average_l0_12");
    Files.createDirectories(scope);
    byte[] npz =
        Files.readAllBytes(
            D.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12/params.npz"));
    Files.write(scope.resolve("params.npz"), java.util.Arrays.copyOf(npz, npz.length / 2));
    String[] r =
        InspectCommandTest.run(
            "atlas",
            "--model",
            MODEL,
            "--layers",
            "1",
            "--circuits",
            "qk",
            "--saes",
            tmp.resolve("scope") + "/layer_{L-1}/width_128/average_l0_12",
            "--format",
            "csv",
            "--quiet",
            "--out",
            tmp.resolve("y").toString());
    oneLine(r, "params.npz");
    // parquet and clusters need the atlas runner
    oneLine(
        InspectCommandTest.run(
            "atlas",
            "--model",
            MODEL,
            "--layers",
            "1",
            "--saes",
            SAES,
            "--out",
            tmp.resolve("z").toString()),
        "pass --format csv",
        AtlasCommand.RUNNER_ARTIFACT);
    oneLine(
        InspectCommandTest.run(
            "atlas",
            "--model",
            MODEL,
            "--layers",
            "1",
            "--saes",
            SAES,
            "--format",
            "parquet",
            "--out",
            tmp.resolve("z").toString()),
        AtlasCommand.RUNNER_ARTIFACT);
    oneLine(
        InspectCommandTest.run(
            "atlas",
            "--model",
            MODEL,
            "--layers",
            "1",
            "--saes",
            SAES,
            "--format",
            "csv",
            "--master",
            "local[*]",
            "--out",
            tmp.resolve("z").toString()),
        "--master",
        AtlasCommand.RUNNER_ARTIFACT);
    // a rerun with other options into the same folder
    assertEquals("0", atlas(tmp.resolve("w"), "--top", "5", "--no-summaries")[0]);
    oneLine(atlas(tmp.resolve("w"), "--top", "6", "--no-summaries"), "other options");
    assertEquals(5, AtlasWriter.readSpec(tmp.resolve("w")).topK());
  }
}
