package dev.saelab.sae;

import static dev.saelab.testutil.TestFiles.f32;
import static dev.saelab.testutil.TestFiles.seq;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.hub.Registry;
import dev.saelab.io.SaeLabException;
import dev.saelab.testutil.TestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gemma Scope 2 (Gemma 3) dictionaries: params.safetensors with lowercase keys, and the registry.
 */
class GemmaScope2Test {
  static Path write(Path dir, boolean threshold, boolean skip) throws Exception {
    int d = 6;
    int n = 10;
    Map<String, TestFiles.Raw> t = new LinkedHashMap<>();
    t.put("w_enc", f32(new long[] {d, n}, seq(d * n, 0.01f)));
    t.put("w_dec", f32(new long[] {n, d}, seq(n * d, 0.02f)));
    t.put("b_enc", f32(new long[] {n}, seq(n, 0.1f)));
    t.put("b_dec", f32(new long[] {d}, seq(d, 0.3f)));
    if (threshold) {
      t.put("threshold", f32(new long[] {n}, seq(n, 0.05f)));
    }
    if (skip) {
      t.put("affine_skip_connection", f32(new long[] {d, d}, seq(d * d, 0.01f)));
    }
    Files.createDirectories(dir);
    Path f = dir.resolve("params.safetensors");
    Files.write(f, TestFiles.safetensors(t, Map.of()));
    return f;
  }

  @Test
  void readsTheReleaseLayoutWithItsSiteLayerAndModel(@TempDir Path tmp) throws Exception {
    Path dir =
        tmp.resolve("models--google--gemma-scope-2-1b-pt/snapshots/abc/resid_post")
            .resolve("layer_13_width_16k_l0_small");
    write(dir, true, false);
    try (SaeDictionary s = SaeDictionary.open(dir)) {
      assertEquals("gemma-scope-2", s.config().format());
      assertEquals("jumprelu", s.config().architecture());
      assertEquals(6, s.config().dIn());
      assertEquals(10, s.config().dSae());
      assertEquals(13, s.config().layer());
      assertEquals("blocks.13.hook_resid_post", s.config().hookName());
      assertEquals("gemma-3-1b", s.config().modelName());
      assertEquals(0.02f * 7, s.wDec().getFloat(1, 1), 1e-6f, "w_dec row 1, column 1 = 7 · 0.02");
      assertEquals(0.01f * 10, s.wEnc().getFloat(1, 0), 1e-6f, "w_enc [d_in, d_sae] kept");
      assertTrue(s.threshold().isPresent());
    }
  }

  @Test
  void aSkipTranscoderIsReadAndSaysItsSkipIsUnused(@TempDir Path tmp) throws Exception {
    Path dir = tmp.resolve("transcoder/layer_3_width_64k_l0_big");
    write(dir, true, true);
    try (SaeDictionary s = SaeDictionary.open(dir.resolve("params.safetensors"))) {
      assertEquals("gemma-scope-2 skip-transcoder", s.config().format());
      assertEquals(3, s.config().layer());
      assertEquals(10, s.config().dSae());
    }
  }

  @Test
  void aFileWithoutThresholdIsOneLineNamingIt(@TempDir Path tmp) throws Exception {
    Path f = write(tmp.resolve("resid_post/layer_2_width_16k_l0_small"), false, false);
    SaeLabException e = assertThrows(SaeLabException.class, () -> SaeDictionary.open(f));
    assertTrue(
        e.getMessage().startsWith(f.toString()) && e.getMessage().contains("'threshold'"),
        e.getMessage());
    assertFalse(e.getMessage().contains("\n"));
  }

  @Test
  void registryPatternsNameEveryLayerWidthAndSparsity() {
    Registry r = Registry.bundled();
    Registry.SaeRef ref = r.sae("gemma-scope-2-4b-pt-res-all/layer_33_width_262k_l0_medium");
    assertEquals("google/gemma-scope-2-4b-pt", ref.repo());
    assertEquals("resid_post_all/layer_33_width_262k_l0_medium", ref.path());
    assertEquals("gemma-scope-2", ref.format());
    assertEquals(
        java.util.List.of("resid_post_all/layer_33_width_262k_l0_medium/params.safetensors"),
        ref.files());
    assertEquals(
        "resid_post/layer_13_width_1m_l0_big",
        r.sae("gemma-scope-2-1b-pt-res", "layer_13_width_1m_l0_big").path());
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> r.sae("gemma-scope-2-1b-pt-res", "layer_12_width_16k_l0_small"));
    assertTrue(
        e.getMessage().contains("[7, 13, 17, 22]") && e.getMessage().contains("small"),
        e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> r.sae("gemma-scope-2-270m-pt-res-all", "layer_18_width_16k_l0_small"));
    assertTrue(e.getMessage().contains("0..17"), e.getMessage());
  }
}
