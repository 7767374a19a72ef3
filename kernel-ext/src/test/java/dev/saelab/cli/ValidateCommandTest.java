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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code saelab validate} end to end: the CSV against the numpy reference, and its errors. */
class ValidateCommandTest {
  static final String D = TestFiles.datasets().toString();
  static final String IDS = "2,17,5,33,9,41,12,60";
  @TempDir Path dir;

  @Test
  void writesEveryHeadAndBandAsTheReferenceComputesThem() throws IOException {
    Path out = dir.resolve("v.csv");
    String[] r =
        InspectCommandTest.run(
            "validate",
            "--model",
            D + "/tiny-qwen3",
            "--sae-in",
            D + "/tiny-saelens-qwen3/blocks.1.hook_resid_pre",
            "--layer",
            "1",
            "--token-ids",
            IDS,
            "--out",
            out.toString());
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains("mean ρ"), r[1]);
    JsonNode ref =
        new ObjectMapper()
            .readTree(TestFiles.datasets().resolve("reference/validation.json").toFile())
            .get("qwen3");
    List<String> lines = Files.readAllLines(out);
    assertEquals("layer,head,band,lo,hi,pairs,rho,rho_rope", lines.get(0));
    assertEquals(1 + ref.get("heads").size() + ref.get("bands").size(), lines.size());
    int seen = 0;
    for (String line : lines.subList(1, lines.size())) {
      String[] f = line.split(",", -1);
      if (f[2].equals("all")) {
        JsonNode h = ref.get("heads").get(Integer.parseInt(f[1]));
        assertEquals(h.get("pairs").asInt(), Integer.parseInt(f[5]));
        assertEquals(h.get("rho").asDouble(), Double.parseDouble(f[6]), 1e-9);
        assertEquals(h.get("rho_rope").asDouble(), Double.parseDouble(f[7]), 1e-9);
        seen++;
      }
    }
    assertEquals(ref.get("heads").size(), seen);
  }

  @Test
  void anSaeOnAnotherStreamIsOneLineNamingTheFlag() {
    String[] r =
        InspectCommandTest.run(
            "validate",
            "--model",
            D + "/tiny-gemma2",
            "--sae-in",
            D + "/tiny-gemma-scope/layer_1/width_96/average_l0_9",
            "--layer",
            "1",
            "--token-ids",
            IDS,
            "--out",
            dir.resolve("x.csv").toString());
    assertEquals("2", r[0], r[1] + r[2]);
    assertTrue(r[2].contains("--sae-in"), r[2]);
    assertTrue(r[2].contains("the input of layer 2, not of layer 1"), r[2]);
    assertEquals(1, r[2].strip().lines().count(), r[2]);
    assertFalse(Files.exists(dir.resolve("x.csv")));
  }

  @Test
  void withoutAnSaeItSaysWhichFlag() {
    String[] r =
        InspectCommandTest.run(
            "validate",
            "--model",
            D + "/tiny-gemma2",
            "--layer",
            "1",
            "--token-ids",
            IDS,
            "--out",
            dir.resolve("y.csv").toString());
    assertEquals("2", r[0], r[1] + r[2]);
    assertTrue(r[2].contains("needs --sae-in SAE"), r[2]);
  }

  @Test
  void recordedActivationsGiveTheSameNumbersAsTheJavaForwardPass() throws IOException {
    String sae = D + "/tiny-saelens/blocks.1.hook_resid_pre";
    Path fromFile = dir.resolve("file.csv");
    Path fromRun = dir.resolve("run.csv");
    String[] r =
        InspectCommandTest.run(
            "validate",
            "--model",
            D + "/tiny-gpt2",
            "--sae-in",
            sae,
            "--layer",
            "1",
            "--activations",
            D + "/tiny-activations/gpt2-cache.safetensors",
            "--out",
            fromFile.toString());
    assertEquals("0", r[0], r[2]);
    r =
        InspectCommandTest.run(
            "validate",
            "--model",
            D + "/tiny-gpt2",
            "--sae-in",
            sae,
            "--layer",
            "1",
            "--token-ids",
            IDS,
            "--out",
            fromRun.toString());
    assertEquals("0", r[0], r[2]);
    // the file holds the float64 reference's activations cast to float32: the same ranks
    assertEquals(Files.readAllLines(fromRun), Files.readAllLines(fromFile));
    r =
        InspectCommandTest.run(
            "validate",
            "--model",
            D + "/tiny-gpt2",
            "--sae-in",
            sae,
            "--layer",
            "1",
            "--activations",
            D + "/tiny-activations/batch-of-2.npz",
            "--out",
            dir.resolve("z.csv").toString());
    assertEquals("2", r[0], r[1] + r[2]);
    assertTrue(r[2].contains("--activations") && r[2].contains("blocks.1.hook_resid_pre"), r[2]);
    assertEquals(1, r[2].strip().lines().count(), r[2]);
    r =
        InspectCommandTest.run(
            "validate",
            "--model",
            D + "/tiny-gpt2",
            "--sae-in",
            sae,
            "--layer",
            "1",
            "--activations",
            D + "/tiny-activations/gpt2-cache.npz",
            "--token-ids",
            IDS,
            "--out",
            dir.resolve("z.csv").toString());
    assertEquals("2", r[0], r[1] + r[2]);
    assertTrue(r[2].contains("not both"), r[2]);
  }
}
