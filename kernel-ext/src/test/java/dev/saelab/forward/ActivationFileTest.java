package dev.saelab.forward;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.cli.InspectCommandTest;
import dev.saelab.io.SafetensorsWriter;
import dev.saelab.model.ModelWeights;
import dev.saelab.testutil.TestFiles;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Importing activations: {@code saelab run}'s own files round-trip exactly; the files of
 * datasets/generate_activations.py (tiny-gpt2's float64 reference activations saved as a Python
 * user saves a TransformerLens cache, with its batch dimension of 1) agree with SAE Lab's forward.
 */
class ActivationFileTest {
  @TempDir Path dir;

  private static final int[] IDS = {2, 17, 5, 33, 9, 41, 12, 60};
  private static final List<String> HOOKS =
      List.of(
          "blocks.0.hook_resid_pre",
          "blocks.1.hook_resid_post",
          "blocks.1.attn.hook_attn_scores",
          "blocks.0.attn.hook_pattern",
          "ln_final.hook_normalized");

  private static Path fixture(String name) {
    return TestFiles.datasets().resolve("tiny-activations").resolve(name);
  }

  @Test
  void saelabRunFilesRoundTrip() {
    Path out = dir.resolve("run.safetensors");
    String[] r =
        InspectCommandTest.run(
            "run",
            "--model",
            ForwardTest.model("tiny-gpt2").toString(),
            "--token-ids",
            "2,17,5,33,9,41,12,60",
            "--hooks",
            String.join(",", HOOKS),
            "--out",
            out.toString());
    assertEquals("0", r[0], r[2]);
    try (ModelWeights m = ModelWeights.open(ForwardTest.model("tiny-gpt2"));
        Activations ours = ForwardPass.run(m, IDS, HOOKS);
        Activations back = Activations.read(out)) {
      assertArrayEquals(IDS, back.tokenIds());
      assertEquals(HOOKS, List.copyOf(back.byName().keySet()));
      for (String h : HOOKS) {
        assertEquals(ours.get(h), back.get(h), h);
      }
    }
  }

  @Test
  void pythonSavedCachesAgreeWithTheForwardPass() {
    for (String f : List.of("gpt2-cache.safetensors", "gpt2-cache.npz")) {
      try (ActivationFile file = ActivationFile.open(fixture(f));
          ModelWeights m = ModelWeights.open(ForwardTest.model("tiny-gpt2"));
          Activations ours = ForwardPass.run(m, IDS, HOOKS)) {
        assertTrue(!file.hooks().contains("hook_embed"), file.hooks().toString());
        assertEquals(9, file.hooks().size(), file.hooks().toString());
        assertArrayEquals(f.endsWith(".npz") ? new int[0] : IDS, file.tokenIds(), f);
        try (Activations theirs = file.read(HOOKS)) {
          for (String h : HOOKS) {
            INDArray a = theirs.get(h);
            INDArray b = ours.get(h);
            assertArrayEquals(b.shape(), a.shape(), f + " " + h);
            float[] x = a.dup('c').data().asFloat();
            float[] y = b.dup('c').data().asFloat();
            for (int i = 0; i < x.length; i++) {
              if (y[i] == Float.NEGATIVE_INFINITY) {
                assertEquals(Float.NEGATIVE_INFINITY, x[i], f + " " + h + " masked " + i);
              } else {
                assertTrue(
                    Math.abs(x[i] - y[i]) <= 1e-4 * Math.abs(y[i]) + 1e-5,
                    f + " " + h + " " + i + ": " + x[i] + " vs " + y[i]);
              }
            }
          }
        }
      }
    }
    // the batch dimension of 1 is dropped: [1, 8, 32] in the file
    try (Activations a = Activations.read(fixture("gpt2-cache.npz"))) {
      assertArrayEquals(new long[] {8, 32}, a.get("blocks.1.hook_resid_post").shape());
      assertArrayEquals(new long[] {4, 8, 8}, a.get("blocks.1.attn.hook_pattern").shape());
    }
  }

  @Test
  void badFilesGetOneLine() {
    assertMessage(
        fixture("gpt2-cache.npz")
            + ": no activation 'blocks.1.hook_mlp_out' (has blocks.0.hook_resid_pre,",
        () -> {
          try (ActivationFile f = ActivationFile.open(fixture("gpt2-cache.npz"))) {
            f.get("blocks.1.hook_mlp_out");
          }
        });
    assertMessage(
        "activation 'blocks.0.hook_resid_post' has shape [2, 8, 32]: a batch of 2 prompts;"
            + " expected one ([T, d_model], or with a leading batch dimension of 1)",
        () -> Activations.read(fixture("batch-of-2.npz")));
    assertMessage(
        "hook 'blocks.0.hook_nothing': expected one of",
        () -> {
          try (ActivationFile f = ActivationFile.open(fixture("gpt2-cache.npz"))) {
            f.get("blocks.0.hook_nothing");
          }
        });
    assertMessage("no such activation file", () -> ActivationFile.open(dir.resolve("x.npz")));
    Path wrong = dir.resolve("wrong.safetensors");
    assertMessage(
        "activation 'blocks.0.attn.hook_pattern' has shape [4, 8, 7], expected [n_heads, T, T]",
        () -> {
          SafetensorsWriter.write(
              wrong, Map.of("blocks.0.attn.hook_pattern", Nd4j.zeros(4, 8, 7)), Map.of());
          Activations.read(wrong);
        });
    assertMessage(
        "activation 'blocks.0.hook_resid_pre' has shape [8, 32], expected [T, d_model] with T = 3"
            + " (its token_ids)",
        () -> {
          SafetensorsWriter.write(
              wrong,
              Map.of("blocks.0.hook_resid_pre", Nd4j.zeros(8, 32)),
              Map.of("token_ids", "[1,2,3]"));
          Activations.read(wrong);
        });
  }

  private static void assertMessage(String part, org.junit.jupiter.api.function.Executable e) {
    Exception x = assertThrows(Exception.class, e);
    assertTrue(
        x instanceof IllegalArgumentException || x instanceof dev.saelab.io.SaeLabException,
        x.toString());
    assertTrue(x.getMessage().contains(part), part + " in: " + x.getMessage());
    assertTrue(!x.getMessage().contains("\n"), x.getMessage());
  }
}
