package dev.saelab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The analysis sub-commands end to end on the shipped data: CSV schemas, numbers against numpy,
 * errors.
 */
class AnalysisCommandsTest {
  static final String D = TestFiles.datasets().toString();
  static final String MODEL = D + "/tiny-gemma2";
  static final String IN = D + "/tiny-gemma-scope/layer_0/width_128/average_l0_12";
  static final String OUT = D + "/tiny-gemma-scope/layer_1/width_96/average_l0_9";
  static JsonNode ref;
  @TempDir Path dir;

  @BeforeAll
  static void readRef() throws IOException {
    ref =
        new ObjectMapper()
            .readTree(TestFiles.datasets().resolve("reference/analyses.json").toFile())
            .get("gemma2_layer1");
  }

  static List<String> lines(Path p) throws IOException {
    return Files.readAllLines(p);
  }

  static void ok(String... args) {
    String[] r = InspectCommandTest.run(args);
    assertEquals("0", r[0], r[2]);
  }

  @Test
  void tablesScreensWriteIdenticalFilesAndABadScreenIsNamed() throws IOException {
    Path a = dir.resolve("int8");
    Path b = dir.resolve("fp32");
    for (Path p : List.of(a, b)) {
      ok(
          "tables",
          "--model",
          MODEL,
          "--layer",
          "1",
          "--sae-in",
          IN,
          "--sae-out",
          OUT,
          "--circuit",
          "both",
          "--top",
          "50",
          "--screen",
          p.getFileName().toString(),
          "--quiet",
          "--out",
          p.toString());
    }
    for (String f : List.of("qk.csv", "ov.csv")) {
      List<String> x = lines(a.resolve(f));
      assertEquals(1 + 4 * 50, x.size(), f);
      assertEquals(x, lines(b.resolve(f)), f);
    }
    String[] r =
        InspectCommandTest.run(
            "tables",
            "--model",
            MODEL,
            "--layer",
            "1",
            "--sae-in",
            IN,
            "--circuit",
            "qk",
            "--screen",
            "int4",
            "--out",
            dir.resolve("x.csv").toString());
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("--screen int4: expected auto, int8 or fp32"), r[2]);
  }

  @Test
  void ropeProfileWritesTheDocumentedColumnsAndNumpysNumbers() throws IOException {
    Path f = dir.resolve("rope.csv");
    Path png = dir.resolve("rope.png");
    ok(
        "rope",
        "--model",
        MODEL,
        "--layer",
        "1",
        "--sae-in",
        IN,
        "--out",
        f.toString(),
        "--plot",
        png.toString());
    List<String> l = lines(f);
    assertEquals("layer,head,delta,score,masked", l.get(0));
    int n = ref.get("profile_deltas").size();
    assertEquals(1 + 4 * n, l.size());
    // head 3 at Δ = 1 (row 1 + 3n + 1)
    String[] row = l.get(1 + 3 * n + 1).split(",");
    assertEquals(List.of("1", "3", "1"), List.of(row[0], row[1], row[2]));
    assertEquals(
        ref.get("profile_bdec").get(3).get(1).asDouble(), Double.parseDouble(row[3]), 1e-4);
    assertTrue(Files.size(png) > 1000);
    Path p = dir.resolve("pairs.csv");
    ok(
        "rope",
        "--model",
        MODEL,
        "--layer",
        "1",
        "--sae-in",
        IN,
        "--pairs",
        "17:42",
        "--deltas",
        "0,1",
        "--pairing",
        "interleaved",
        "--heads",
        "1",
        "--out",
        p.toString());
    assertEquals("layer,head,query_feature,key_feature,delta,score,masked", lines(p).get(0));
    assertTrue(lines(p).get(1).startsWith("1,1,17,42,0,"), lines(p).get(1));
  }

  @Test
  void svdWritesSpectrumLoadingsAndContributions() throws IOException {
    Path o = dir.resolve("svd");
    ok(
        "svd",
        "--model",
        MODEL,
        "--layer",
        "1",
        "--sae-in",
        IN,
        "--sae-out",
        OUT,
        "--top",
        "5",
        "--directions",
        "2",
        "--pairs",
        "3",
        "--out",
        o.toString());
    List<String> s = lines(o.resolve("spectrum.csv"));
    assertEquals("layer,head,circuit,k,sigma", s.get(0));
    assertEquals(1 + 2 * 4 * 16, s.size());
    String[] first = s.get(1).split(",");
    assertEquals(
        ref.get("svd_qk").get(0).get("sigma").get(0).asDouble(),
        Double.parseDouble(first[4]),
        1e-5);
    List<String> ld = lines(o.resolve("loadings.csv"));
    assertEquals("layer,head,circuit,k,side,feature,loading", ld.get(0));
    JsonNode q0 = ref.get("svd_qk").get(1).get("loadings_query_k0").get(0);
    assertTrue(
        ld.contains("1,1,qk,0,query," + q0.get(0).asInt() + "," + (float) q0.get(1).asDouble())
            || ld.stream().anyMatch(x -> x.startsWith("1,1,qk,0,query," + q0.get(0).asInt() + ",")),
        "top loading");
    assertEquals(
        1 + 4 * 2 * 4 * 5,
        ld.size(),
        "4 heads × 2 directions × 4 sides (query,key,value,output) × 5");
    List<String> c = lines(o.resolve("contributions.csv"));
    assertTrue(
        c.get(0).startsWith("layer,head,circuit,row_feature,col_feature,value,directions_90,"));
    assertTrue(c.stream().anyMatch(x -> x.startsWith("1,1,qk,17,42,")), "planted pair split");
  }

  @Test
  void summedTablesPutTheSpreadPairFirst() throws IOException {
    Path o = dir.resolve("sum.csv");
    ok(
        "tables",
        "--model",
        MODEL,
        "--layer",
        "1",
        "--sae-in",
        IN,
        "--circuit",
        "qk",
        "--heads",
        "sum",
        "--breakdown",
        "--top",
        "5",
        "--out",
        o.toString(),
        "--quiet");
    List<String> l = lines(o);
    assertEquals(
        "circuit,layer,head,rank,query_feature,key_feature,value,head_spread,weak_in_every_head,head_0,"
            + "head_1,head_2,head_3",
        l.get(0));
    assertTrue(l.get(1).startsWith("qk,1,sum,1,88,101,"), l.get(1));
    assertTrue(l.get(1).contains(",2,true,"), l.get(1));
    String[] r =
        InspectCommandTest.run(
            "tables",
            "--model",
            MODEL,
            "--layer",
            "1",
            "--sae-in",
            IN,
            "--circuit",
            "qk",
            "--breakdown",
            "--out",
            o.toString());
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("--breakdown goes with --heads sum"), r[2]);
  }

  @Test
  void positionAndCosineTables() throws IOException {
    Path o = dir.resolve("pos.csv");
    ok(
        "tables",
        "--model",
        MODEL,
        "--layer",
        "1",
        "--sae-in",
        IN,
        "--circuit",
        "qk",
        "--heads",
        "3",
        "--position",
        "1",
        "--top",
        "2",
        "--out",
        o.toString(),
        "--quiet");
    JsonNode e = ref.get("rope_tables").get("rotate-half").get(3).get(0);
    assertTrue(
        lines(o).get(1).startsWith("qk,1,3,1," + e.get(0).asInt() + "," + e.get(1).asInt() + ","),
        lines(o).get(1));
    ok(
        "tables",
        "--model",
        MODEL,
        "--layer",
        "1",
        "--sae-in",
        IN,
        "--circuit",
        "qk",
        "--heads",
        "1",
        "--cosine",
        "--top",
        "2",
        "--out",
        o.toString(),
        "--quiet");
    JsonNode c = ref.get("cosine_qk").get(1).get(0);
    String[] row = lines(o).get(1).split(",");
    assertEquals(c.get(2).asDouble(), Double.parseDouble(row[6]), 1e-5);
  }

  @Test
  void featureAndScatterCommands() throws IOException {
    Path o = dir.resolve("f");
    ok(
        "feature",
        "--model",
        MODEL,
        "--layer",
        "1",
        "--sae-in",
        IN,
        "--sae-out",
        OUT,
        "17",
        "--top",
        "1",
        "--out",
        o.toString());
    List<String> p = lines(o.resolve("partners.csv"));
    assertEquals("layer,head,role,feature,rank,partner,value", p.get(0));
    assertTrue(p.stream().anyMatch(x -> x.startsWith("1,1,query,17,1,42,")), String.join("\n", p));
    assertEquals(5, lines(o.resolve("norms.csv")).size());
    Path s = dir.resolve("s");
    ok(
        "scatter",
        "--model",
        MODEL,
        "--layer",
        "1",
        "--sae-in",
        IN,
        "--sae-out",
        OUT,
        "--heads",
        "2",
        "--out",
        s.toString());
    String[] corr = lines(s.resolve("correlation.csv")).get(1).split(",");
    assertEquals(
        ref.get("scatter").get(2).get("pearson").asDouble(), Double.parseDouble(corr[2]), 1e-6);
  }

  @Test
  void labelsOfAnotherSaeAreRefusedInOneLineNamingBoth() throws IOException {
    Path gpt2 = dir.resolve("tiny-gpt2-labels.json");
    Files.writeString(
        gpt2,
        "{\"explanations\":[{\"modelId\":\"tiny-gpt2\",\"layer\":\"1-res-tiny\",\"index\":\"3\",\"description\":\"planted"
            + " GPT-2"
            + " query\"},{\"modelId\":\"tiny-gpt2\",\"layer\":\"1-res-tiny\",\"index\":\"7\",\"description\":\"planted"
            + " GPT-2 key\"}]}");
    Path csv = dir.resolve("qk.csv");
    String[] r =
        InspectCommandTest.run(
            "tables",
            "--model",
            MODEL,
            "--layer",
            "1",
            "--sae-in",
            IN,
            "--circuit",
            "qk",
            "--labels-in",
            gpt2.toString(),
            "--quiet",
            "--out",
            csv.toString());
    assertEquals("2", r[0], r[2]);
    assertEquals(1, r[2].strip().lines().count(), r[2]);
    assertTrue(
        r[2].startsWith(
                "saelab tables: labels "
                    + gpt2
                    + " (tiny-gpt2/1-res-tiny) do not belong to SAE "
                    + IN)
            && r[2].contains("model tiny-gpt2 vs a Gemma model"),
        r[2]);
    assertTrue(!Files.exists(csv), "nothing written");
    // the shipped labels of these SAEs: no warning
    r =
        InspectCommandTest.run(
            "tables",
            "--model",
            MODEL,
            "--layer",
            "1",
            "--sae-in",
            IN,
            "--sae-out",
            OUT,
            "--top",
            "2",
            "--labels-in",
            D + "/tiny-neuronpedia/tiny-gemma2_0-tinyscope-res-128.json",
            "--labels-out",
            D + "/tiny-neuronpedia/v1/tiny-gemma2/1-tinyscope-res-96",
            "--quiet",
            "--out",
            dir.resolve("both").toString());
    assertEquals("0", r[0], r[2]);
    assertEquals("", r[2]);
    // an SAE that names nothing: accepted, one warning on stderr
    Path anon = TestFiles.anonymousSaeLens(dir.resolve("anon"), 48, 128);
    r =
        InspectCommandTest.run(
            "tables",
            "--model",
            MODEL,
            "--layer",
            "1",
            "--sae-in",
            anon.toString(),
            "--circuit",
            "qk",
            "--top",
            "2",
            "--labels-in",
            D + "/tiny-neuronpedia/tiny-gemma2_0-tinyscope-res-128.json",
            "--quiet",
            "--out",
            csv.toString());
    assertEquals("0", r[0], r[2]);
    assertEquals(1, r[2].strip().lines().count(), r[2]);
    assertTrue(r[2].startsWith("warning: cannot confirm that labels "), r[2]);
  }

  @Test
  void badInputNamesTheProblem() {
    String gpt2 = D + "/tiny-gpt2";
    String sae = D + "/tiny-saelens/blocks.1.hook_resid_pre";
    String[] r =
        InspectCommandTest.run(
            "rope",
            "--model",
            gpt2,
            "--layer",
            "1",
            "--sae-in",
            sae,
            "--out",
            dir.resolve("x.csv").toString());
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("no rotary position embeddings"), r[2]);
    r =
        InspectCommandTest.run(
            "rope",
            "--model",
            MODEL,
            "--layer",
            "1",
            "--sae-in",
            IN,
            "--pairs",
            "17-42",
            "--out",
            dir.resolve("x.csv").toString());
    assertTrue(r[2].contains("expected QUERY:KEY feature pairs"), r[2]);
    r =
        InspectCommandTest.run(
            "feature",
            "--model",
            MODEL,
            "--layer",
            "1",
            "--sae-in",
            IN,
            "500",
            "--out",
            dir.toString());
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("feature 500 out of range 0..127"), r[2]);
    r = InspectCommandTest.run("svd", "--model", MODEL, "--layer", "9", "--out", dir.toString());
    assertTrue(r[2].contains("--layer 9: the model has layers 0..1"), r[2]);
    r =
        InspectCommandTest.run(
            "scatter", "--model", MODEL, "--layer", "1", "--sae-in", IN, "--out", dir.toString());
    assertTrue(r[2].contains("needs --sae-out"), r[2]);
  }

  @Test
  void aHugeTopGivesTheWholeTableAndRepeatedHeadsAreComputedOnce() throws Exception {
    Path csv = dir.resolve("all.csv");
    ok(
        "qk",
        "--model",
        MODEL,
        "--layer",
        "1",
        "--sae-in",
        IN,
        "--heads",
        "1,1",
        "--top",
        "2000000000",
        "--out",
        csv.toString(),
        "--quiet");
    List<String> l = lines(csv);
    assertEquals(1 + 128 * 128, l.size(), "every entry of head 1's 128 x 128 table, once");
    assertTrue(l.stream().skip(1).allMatch(x -> x.startsWith("qk,1,1,")), "only head 1");
    assertEquals(
        java.nio.file.Files.getPosixFilePermissions(
            java.nio.file.Files.createFile(dir.resolve("fresh"))),
        java.nio.file.Files.getPosixFilePermissions(csv),
        "written as a new file would be (the umask)");
  }

  @Test
  void aPositionPastASlidingWindowIsNamedAsMasked() {
    String g3 = D + "/tiny-gemma3";
    String sae = D + "/tiny-gemma-scope-2/resid_post_all/layer_1_width_32_l0_small";
    String[] r =
        InspectCommandTest.run(
            "qk",
            "--model",
            g3,
            "--layer",
            "2",
            "--sae-in",
            sae,
            "--position",
            "8",
            "--top",
            "2",
            "--quiet",
            "--out",
            dir.resolve("masked.csv").toString());
    assertEquals("0", r[0], r[2]);
    assertTrue(r[2].contains("sliding window of 8 tokens, so --position 8 is masked"), r[2]);
    r =
        InspectCommandTest.run(
            "qk",
            "--model",
            g3,
            "--layer",
            "2",
            "--sae-in",
            sae,
            "--position",
            "7",
            "--top",
            "2",
            "--quiet",
            "--out",
            dir.resolve("inside.csv").toString());
    assertEquals("0", r[0], r[2]);
    assertFalse(r[2].contains("masked"), r[2]);
  }
}
