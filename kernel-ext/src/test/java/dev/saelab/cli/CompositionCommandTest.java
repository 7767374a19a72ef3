package dev.saelab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.api.Analysis;
import dev.saelab.api.SaeLab;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code saelab composition}, {@code %composition} and {@code SaeLab.composition} agree. */
class CompositionCommandTest {
  static final Path D = TestFiles.datasets().resolve("tiny-composition");

  @Test
  void commandLineWritesThePlantedPathFirst(@TempDir Path tmp) throws Exception {
    Path csv = tmp.resolve("c.csv");
    String[] r =
        InspectCommandTest.run(
            "composition",
            "--model",
            D.resolve("model").toString(),
            "--sae",
            D.resolve("blocks.1.hook_resid_pre").toString(),
            "--top",
            "4",
            "--out",
            csv.toString());
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains("strongest Q L0H1 -> L1H2"), r[1]);
    List<String> lines = Files.readAllLines(csv);
    assertEquals(5, lines.size());
    assertEquals(
        "rank,source,target,kind,score,source_layer,source_head,target_layer,target_head,features,"
            + "feature_strengths,feature_shares,feature_share,directions,direction_shares,"
            + "directions_90",
        lines.get(0));
    String[] first = lines.get(1).split(",");
    assertEquals(List.of("1", "L0H1", "L1H2", "Q"), List.of(first).subList(0, 4));
    assertTrue(first[9].startsWith("11;"), lines.get(1));
    assertTrue(first[13].startsWith("0;"), lines.get(1));
    // the second planted path: K, two layers apart, feature 37
    assertTrue(lines.get(2).startsWith("2,L0H3,L2H0,K,"), lines.get(2));
    assertTrue(lines.get(2).split(",")[9].startsWith("37;"), lines.get(2));
  }

  @Test
  void layersKindsAndBadValuesAreOneLine(@TempDir Path tmp) {
    Path csv = tmp.resolve("c.csv");
    String[] r =
        InspectCommandTest.run(
            "composition",
            "--model",
            D.resolve("model").toString(),
            "--layers",
            "1-2",
            "--kinds",
            "v",
            "--top",
            "3",
            "--out",
            csv.toString());
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains("3 of 48 paths"), r[1]);
    r =
        InspectCommandTest.run(
            "composition",
            "--model",
            D.resolve("model").toString(),
            "--kinds",
            "x",
            "--out",
            csv.toString());
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("--kinds x: expected q, k, v"), r[2]);
    r =
        InspectCommandTest.run(
            "composition",
            "--model",
            D.resolve("model").toString(),
            "--layers",
            "1",
            "--out",
            csv.toString());
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("at least two layers"), r[2]);
    r =
        InspectCommandTest.run(
            "composition",
            "--model",
            D.resolve("model").toString(),
            "--labels",
            "x.json",
            "--out",
            csv.toString());
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("--labels needs --sae"), r[2]);
  }

  @Test
  void magicAndApiReturnTheSameTable() {
    dev.saelab.magic.SaeLabMagics m = new dev.saelab.magic.SaeLabMagics(w -> {});
    m.eval("model", List.of(D.resolve("model").toString(), "--layer", "1"));
    m.eval("sae", List.of(D.resolve("blocks.1.hook_resid_pre").toString()));
    Object got = m.eval("composition", List.of("--top", "6"));
    assertTrue(got instanceof Analysis, String.valueOf(got));
    Analysis magic = (Analysis) got;
    try (ModelWeights model = ModelWeights.open(D.resolve("model"));
        SaeDictionary sae = SaeDictionary.open(D.resolve("blocks.1.hook_resid_pre"))) {
      Analysis api = SaeLab.composition(model, sae, 6);
      assertEquals(CompositionCommand.csv(api.table()), CompositionCommand.csv(magic.table()));
      assertNotNull(api.plot());
      assertEquals("11", api.table().stringColumn("features").get(0).split(";")[0]);
    }
  }
}
