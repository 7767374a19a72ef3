package dev.saelab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.testutil.TestFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

public class InspectCommandTest {
  @TempDir Path dir;

  public static String[] run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        Main.run(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new String[] {
      String.valueOf(code),
      out.toString(StandardCharsets.UTF_8),
      err.toString(StandardCharsets.UTF_8)
    };
  }

  @Test
  void describesEveryShippedDataset() {
    String[] r = run("inspect", TestFiles.datasets().toString());
    assertEquals("0", r[0], r[2]);
    String out = r[1];
    assertTrue(
        out.contains("model gemma2: d_model=48 n_layers=2 n_heads=4 n_kv_heads=2 d_head=16"), out);
    assertTrue(out.contains("layers (S sliding, G global): SG"), out);
    assertTrue(out.contains("model.layers.1.self_attn.q_proj.weight  BF16 [64, 48]"), out);
    assertTrue(out.contains("SAE (gemma-scope) architecture=jumprelu d_in=48 d_sae=128"), out);
    assertTrue(
        out.contains(
            "SAE (saelens) architecture=standard d_in=32 d_sae=64 hook=blocks.1.hook_resid_pre"),
        out);
    assertTrue(
        out.contains(
            "127 explanations of 125 features (max index 127), 2 with several explanations"),
        out);
    assertTrue(out.contains("model gpt2: d_model=32"), out);
  }

  @Test
  void badFileExitsTwoWithOneNamedLine() throws IOException {
    Path bad = dir.resolve("broken.safetensors");
    Files.write(bad, new byte[] {1, 2, 3});
    String[] r = run("inspect", bad.toString());
    assertEquals("2", r[0]);
    assertEquals(1, r[2].strip().lines().count(), r[2]);
    assertTrue(r[2].contains(bad.toString()) && r[2].contains("at least 8"), r[2]);
    r = run("inspect", dir.resolve("nothing-here").toString());
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("no such file"), r[2]);
    r = run("inspect", Files.createDirectories(dir.resolve("empty")).toString());
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("not a recognised"), r[2]);
  }
}
