package dev.saelab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.forward.ForwardPass;
import dev.saelab.io.DType;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code saelab bench forward} on the tiny shapes: SAE Lab alone, and against the PyTorch peer
 * (when {@code /usr/bin/python3} imports torch), whose independent forward must give the same
 * final-norm output; the synthetic checkpoint opens as the real model's would.
 */
class BenchForwardTest {
  @Test
  void tinyShapeRunsWithoutTorch() {
    String[] r =
        InspectCommandTest.run(
            "bench",
            "forward",
            "--shape",
            "tiny-gpt2",
            "--tokens",
            "8,12",
            "--repeat",
            "2",
            "--no-torch");
    assertEquals("0", r[0], r[2]);
    String o = r[1];
    assertTrue(o.contains("synthetic tiny GPT-2 (d_model 64, 4 heads"), o);
    assertTrue(o.contains("2 of 2 layers, vocab 512, F32"), o);
    assertTrue(
        Pattern.compile("\\s8 tokens  SAE Lab\\s+[0-9.]+ s\\s+\\d+ tokens/s  peak RSS\\s+\\d+ MiB")
            .matcher(o)
            .find(),
        o);
    assertTrue(o.contains("12 tokens  SAE Lab"), o);
    // resident weights loaded before the timed rounds, and the streaming run besides
    assertTrue(
        Pattern.compile("\\s8 tokens  SAE Lab .*weights loaded in [0-9.]+ s, not timed\\)")
            .matcher(o)
            .find(),
        o);
    assertTrue(
        Pattern.compile("\\s8 tokens  SAE Lab streaming\\s+[0-9.]+ s\\s+\\d+ tokens/s  peak RSS")
            .matcher(o)
            .find(),
        o);
    assertTrue(!o.contains("tokens  PyTorch"), o);
  }

  @Test
  void torchPeerComputesTheSameForward() throws Exception {
    Process p =
        new ProcessBuilder(BenchCommand.PYTHON, "-c", "import torch")
            .redirectErrorStream(true)
            .start();
    p.getInputStream().readAllBytes();
    Assumptions.assumeTrue(p.waitFor() == 0, "torch not importable by " + BenchCommand.PYTHON);
    for (String shape : List.of("tiny-gemma2", "tiny-gpt2")) {
      // 12 tokens: past tiny-gemma2's sliding window of 4 on its layer 0
      String[] r =
          InspectCommandTest.run(
              "bench",
              "forward",
              "--shape",
              shape,
              "--tokens",
              "12",
              "--repeat",
              "1",
              "--dtype",
              "bf16");
      assertEquals("0", r[0], r[2]);
      String o = r[1];
      assertTrue(o.contains("12 tokens  PyTorch"), o);
      Matcher m =
          Pattern.compile("max \\|difference\\| ([0-9.e+-]+) \\(max \\|value\\| ([0-9.e+-]+)\\)")
              .matcher(o);
      assertTrue(m.find(), o);
      double diff = Double.parseDouble(m.group(1));
      double scale = Double.parseDouble(m.group(2));
      assertTrue(scale > 0.5, o);
      assertTrue(diff < 1e-4 * scale, shape + ": " + o);
    }
  }

  @Test
  void syntheticCheckpointIsARealModelFolder(@TempDir Path dir) throws Exception {
    BenchForward.Shape s = BenchForward.Shape.TINY_GEMMA2;
    BenchForward.writeCheckpoint(dir, s, 2, 100, "bf16", BenchForward.tensors(s, 2, 100));
    try (ModelWeights m = ModelWeights.open(dir)) {
      ModelConfig c = m.config();
      assertEquals("gemma2", c.modelType());
      assertEquals(64, c.dModel());
      assertEquals(2, c.nLayers());
      assertEquals(2, c.nKvHeads());
      assertEquals(50.0, c.attnSoftcap());
      assertTrue(c.isSliding(0) && !c.isSliding(1));
      assertEquals(4, c.slidingWindow());
      assertEquals(DType.BF16, m.tensors().info("model.layers.1.mlp.down_proj.weight").dtype());
      assertEquals(
          List.of(64L, 128L),
          java.util.Arrays.stream(m.tensors().info("model.layers.1.mlp.down_proj.weight").shape())
              .boxed()
              .toList());
      // Gemma's norm weights sit around 0 (gain 1 + w), GPT-2's LayerNorm gains around 1
      float[] g = m.tensors().readFloats("model.norm.weight");
      double mean = 0;
      for (float v : g) {
        mean += v / g.length;
        assertTrue(Math.abs(v) < 0.1, "" + v);
      }
      assertTrue(Math.abs(mean) < 0.03, "" + mean);
      ForwardPass.checkTokens(m, BenchForward.tokenIds(16, 100));
    }
    assertEquals(
        BenchForward.layerParameters(BenchForward.Shape.GPT2_SMALL),
        // ln_1, c_attn, c_proj, ln_2, c_fc, c_proj with biases
        2 * 768
            + 768 * 2304
            + 2304
            + 768 * 768
            + 768
            + 2 * 768
            + 768 * 3072
            + 3072
            + 3072 * 768
            + 768);
    assertTrue(
        new String(
                java.nio.file.Files.readAllBytes(dir.resolve("config.json")),
                StandardCharsets.UTF_8)
            .contains("\"torch_dtype\" : \"bfloat16\""));
  }

  @Test
  void badOptionsGetOneLine() {
    String[] r =
        InspectCommandTest.run("bench", "forward", "--shape", "tiny-gpt2", "--layers", "3");
    assertEquals("2", r[0], r[1]);
    assertTrue(r[2].contains("--layers 3: tiny GPT-2 has 2"), r[2]);
    r = InspectCommandTest.run("bench", "forward", "--shape", "tiny-gpt2", "--dtype", "f16");
    assertTrue(r[2].contains("--dtype f16: expected f32 or bf16"), r[2]);
    r = InspectCommandTest.run("bench", "forward", "--shape", "gpt2-small", "--tokens", "2048");
    assertTrue(r[2].contains("--tokens 2048: GPT-2 small's context is 1024"), r[2]);
    r = InspectCommandTest.run("bench", "forward", "--shape", "gpt3");
    assertTrue(r[2].contains("expected gpt2-small, gemma-2-2b, tiny-gpt2 or tiny-gemma2"), r[2]);
  }
}
