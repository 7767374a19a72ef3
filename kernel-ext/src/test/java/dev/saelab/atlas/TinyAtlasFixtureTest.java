package dev.saelab.atlas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.cli.InspectCommandTest;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tiny-atlas fixture (datasets/generate_atlas.py) through {@code saelab atlas}: with the SAE
 * pattern that planted.json records, every planted QK and OV pair of layers 1..3 is rank 1 of its
 * (layer, head, circuit) partition with the value numpy computed in float64, carries its label, and
 * its head is the strongest of its layer for that circuit (what a layer × head map shows).
 */
class TinyAtlasFixtureTest {
  static final Path D = TestFiles.datasets();
  static final Path ATLAS = D.resolve("tiny-atlas");

  @AfterAll
  static void clear() {
    AtlasInputs.clearCache();
  }

  /**
   * A repository-relative path of planted.json ({@code datasets/...}) under the test's datasets.
   */
  static String local(String repoPath) {
    assertTrue(repoPath.startsWith("datasets/"), repoPath);
    return D.resolve(repoPath.substring("datasets/".length())).toString();
  }

  /** One CSV line split into cells (RFC 4180 quotes, as the atlas writes labels). */
  static List<String> cells(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (quoted) {
        if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
          cur.append('"');
          i++;
        } else if (c == '"') {
          quoted = false;
        } else {
          cur.append(c);
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        out.add(cur.toString());
        cur.setLength(0);
      } else {
        cur.append(c);
      }
    }
    out.add(cur.toString());
    return out;
  }

  @Test
  void everyPlantedPairIsRankOneOfItsPartition(@TempDir Path tmp) throws IOException {
    JsonNode planted = new ObjectMapper().readTree(ATLAS.resolve("planted.json").toFile());
    Path out = tmp.resolve("atlas");
    String[] r =
        InspectCommandTest.run(
            "atlas",
            "--model",
            local(planted.get("model").asText()),
            "--layers",
            planted.get("layers").asText(),
            "--saes",
            local(planted.get("saes").asText()),
            "--labels",
            local(planted.get("labels").asText()),
            "--format",
            "csv",
            "--top",
            "10",
            "--quiet",
            "--out",
            out.toString());
    assertEquals("0", r[0], r[2]);
    assertFalse(r[2].contains("warning"), "the labels belong to their SAEs: " + r[2]);
    assertFalse(Files.exists(out.resolve("table/layer=0")), "layer 0 was not asked for");

    // the planted heads of layers 1..3, QK and OV (3 layers × 2 circuits)
    assertEquals(6, planted.get("planted").size());
    for (JsonNode p : planted.get("planted")) {
      int layer = p.get("layer").asInt();
      int head = p.get("head").asInt();
      String circuit = p.get("circuit").asText();
      String where = "L" + layer + "H" + head + " " + circuit;
      double[] tops = new double[4];
      List<String> first = null;
      List<String> header = null;
      for (int h = 0; h < 4; h++) {
        Path part =
            out.resolve(
                "table/layer=" + layer + "/head=" + h + "/circuit=" + circuit + "/part-0.csv");
        List<String> lines = Files.readAllLines(part);
        assertEquals(11, lines.size(), part + ": header and --top 10 rows");
        header = cells(lines.get(0));
        List<String> row1 = cells(lines.get(1));
        assertEquals("1", row1.get(header.indexOf("rank")), part.toString());
        tops[h] = Math.abs(Double.parseDouble(row1.get(header.indexOf("value"))));
        if (h == head) {
          first = row1;
        }
      }
      String rowCol = circuit.equals("qk") ? "query" : "value";
      String colCol = circuit.equals("qk") ? "key" : "output";
      assertEquals(
          p.get("row_feature").asText(), first.get(header.indexOf(rowCol + "_feature")), where);
      assertEquals(
          p.get("col_feature").asText(), first.get(header.indexOf(colCol + "_feature")), where);
      double value = Double.parseDouble(first.get(header.indexOf("value")));
      double expected = p.get("value").asDouble(); // numpy, float64, rounded to 4 decimals
      assertEquals(expected, value, 1e-4 + 2e-5 * (1 + Math.abs(expected)), where);
      assertTrue(
          first.get(header.indexOf(rowCol + "_label")).startsWith("planted " + rowCol + " of L"),
          where + ": " + first);
      for (int h = 0; h < 4; h++) {
        if (h != head) {
          assertTrue(
              tops[head] > 2 * tops[h],
              where + " is the strongest head of its layer: " + java.util.Arrays.toString(tops));
        }
      }
    }
  }

  @Test
  void theModelAlternatesSlidingAndGlobalLayersAsGemma2() {
    String[] r = InspectCommandTest.run("inspect", ATLAS.resolve("model").toString());
    assertEquals("0", r[0], r[2]);
    assertTrue(
        r[1].contains("model gemma2: d_model=32 n_layers=4 n_heads=4 n_kv_heads=2 d_head=8"), r[1]);
    assertTrue(r[1].contains("layers (S sliding, G global): SGSG"), r[1]);
  }
}
