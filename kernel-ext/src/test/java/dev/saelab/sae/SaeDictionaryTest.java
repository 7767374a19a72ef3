package dev.saelab.sae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.io.SaeLabException;
import dev.saelab.model.ModelWeights;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SaeDictionaryTest {
  @TempDir Path dir;

  @Test
  void readsTheShippedGemmaScopeFolders() {
    Path in = TestFiles.datasets().resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12");
    try (SaeDictionary s = SaeDictionary.open(in)) {
      SaeConfig c = s.config();
      assertEquals("gemma-scope", c.format());
      assertEquals("jumprelu", c.architecture());
      assertEquals(48, c.dIn());
      assertEquals(128, c.dSae());
      assertEquals(0, c.layer());
      assertEquals("blocks.0.hook_resid_post", c.hookName());
      assertFalse(c.applyBDecToInput());
      assertArrayEquals(new long[] {128, 48}, s.wDec().shape());
      assertArrayEquals(new long[] {48, 128}, s.wEnc().shape());
      assertTrue(s.threshold().isPresent());
    }
    // bare params.npz, DEFLATED members
    try (SaeDictionary s =
        SaeDictionary.open(
            TestFiles.datasets()
                .resolve("tiny-gemma-scope/layer_1/width_96/average_l0_9/params.npz"))) {
      assertEquals(96, s.config().dSae());
      assertArrayEquals(new long[] {96, 48}, s.wDec().shape());
    }
  }

  @Test
  void readsTheShippedSaeLensFolder() {
    try (SaeDictionary s =
        SaeDictionary.open(TestFiles.datasets().resolve("tiny-saelens/blocks.1.hook_resid_pre"))) {
      SaeConfig c = s.config();
      assertEquals("saelens", c.format());
      assertEquals("standard", c.architecture());
      assertEquals(32, c.dIn());
      assertEquals(64, c.dSae());
      assertEquals(1, c.layer());
      assertTrue(c.applyBDecToInput());
      assertTrue(c.centeredStream());
      assertEquals("tiny-gpt2/1-res-tiny", c.neuronpediaId());
    }
  }

  @Test
  void acceptsLowercaseGemmaScopeKeys() throws IOException {
    Path p = dir.resolve("params.npz");
    TestFiles.npz(p, TestFiles.tinySaeMembers(3, 5, true), false);
    try (SaeDictionary s = SaeDictionary.open(p)) {
      assertEquals(3, s.config().dIn());
      assertEquals(5, s.config().dSae());
      assertEquals(-0.02f * 13, s.wDec().getFloat(4, 1), 1e-6);
    }
  }

  @Test
  void legacySaeLensConfigWithTopk() throws IOException {
    Path d = Files.createDirectories(dir.resolve("old"));
    Files.writeString(
        d.resolve("cfg.json"),
        "{\"d_in\": 3, \"d_sae\": 5, \"hook_point\": \"blocks.4.hook_resid_pre\","
            + " \"activation_fn_str\": \"topk\", \"activation_fn_kwargs\": {\"k\": 2}}");
    Map<String, TestFiles.Raw> t = new java.util.LinkedHashMap<>();
    t.put("W_enc", TestFiles.f32(new long[] {3, 5}, TestFiles.seq(15, 1)));
    t.put("W_dec", TestFiles.f32(new long[] {5, 3}, TestFiles.seq(15, 1)));
    t.put("b_enc", TestFiles.f32(new long[] {5}, TestFiles.seq(5, 1)));
    t.put("b_dec", TestFiles.f32(new long[] {3}, TestFiles.seq(3, 1)));
    Files.write(d.resolve("sae_weights.safetensors"), TestFiles.safetensors(t, null));
    try (SaeDictionary s = SaeDictionary.open(d)) {
      assertEquals("topk", s.config().architecture());
      assertEquals(2, s.config().k());
      assertEquals(4, s.config().layer());
      assertTrue(s.config().applyBDecToInput());
    }
  }

  @Test
  void npzWithoutWdecIsRefusedByName() throws IOException {
    Map<String, byte[]> m = TestFiles.tinySaeMembers(3, 5, false);
    m.remove("W_dec");
    Path p = dir.resolve("params.npz");
    TestFiles.npz(p, m, false);
    SaeLabException e = assertThrows(SaeLabException.class, () -> SaeDictionary.open(p));
    assertTrue(
        e.getMessage().contains(p.toString()) && e.getMessage().contains("'W_dec'"),
        e.getMessage());
  }

  @Test
  void wrongShapesAreRefusedByName() throws IOException {
    Map<String, byte[]> m = TestFiles.tinySaeMembers(3, 5, false);
    m.put("threshold", TestFiles.npyF32(new long[] {4}, 1, 2, 3, 4));
    Path p = dir.resolve("params.npz");
    TestFiles.npz(p, m, false);
    SaeLabException e = assertThrows(SaeLabException.class, () -> SaeDictionary.open(p));
    assertTrue(
        e.getMessage().contains("'threshold'") && e.getMessage().contains("expected [5]"),
        e.getMessage());
  }

  @Test
  void folderThatIsNoSaeIsRefused() {
    SaeLabException e = assertThrows(SaeLabException.class, () -> SaeDictionary.open(dir));
    assertTrue(
        e.getMessage().contains("params.npz") && e.getMessage().contains(dir.toString()),
        e.getMessage());
  }

  @Test
  void mismatchedSaeAndModelWidthsNameBoth() {
    try (ModelWeights m = ModelWeights.open(TestFiles.datasets().resolve("tiny-gemma2"));
        SaeDictionary s =
            SaeDictionary.open(
                TestFiles.datasets().resolve("tiny-saelens/blocks.1.hook_resid_pre"))) {
      SaeLabException e =
          assertThrows(
              SaeLabException.class, () -> m.requireWidth(s.config().dIn(), "SAE " + s.path()));
      assertTrue(
          e.getMessage().contains("d_in=32") && e.getMessage().contains("d_model=48"),
          e.getMessage());
    }
  }
}
