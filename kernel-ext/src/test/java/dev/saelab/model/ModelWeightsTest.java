package dev.saelab.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.io.SaeLabException;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

class ModelWeightsTest {
  @TempDir Path dir;

  @Test
  void gemma2ConfigAndTransformerLensLayout() {
    try (ModelWeights m = ModelWeights.open(TestFiles.datasets().resolve("tiny-gemma2"))) {
      ModelConfig c = m.config();
      assertEquals(48, c.dModel());
      assertEquals(4, c.nHeads());
      assertEquals(2, c.nKvHeads());
      assertEquals(16, c.dHead());
      assertEquals(NormKind.RMS_ONE_PLUS, c.norm());
      assertEquals(0.25, c.queryScale(), 1e-12);
      assertEquals(50.0, c.attnSoftcap());
      assertTrue(c.isSliding(0));
      assertFalse(c.isSliding(1));
      assertEquals(0, c.kvHead(0));
      assertEquals(0, c.kvHead(1));
      assertEquals(1, c.kvHead(2));
      assertEquals(1, c.kvHead(3));

      AttentionWeights a = m.attention(1);
      float[] qProj = m.tensors().readFloats("model.layers.1.self_attn.q_proj.weight"); // [64, 48]
      float[] oProj = m.tensors().readFloats("model.layers.1.self_attn.o_proj.weight"); // [48, 64]
      float[] gIn = m.tensors().readFloats("model.layers.1.input_layernorm.weight");
      assertArrayEquals(new long[] {4, 48, 16}, a.W_Q().shape());
      assertArrayEquals(new long[] {2, 48, 16}, a.W_K().shape());
      assertArrayEquals(new long[] {4, 16, 48}, a.W_O().shape());
      // TL: W_Q[h, m, e] = q_proj[16 h + e, m]; W_O[h, e, m] = o_proj[m, 16 h + e]
      assertEquals(qProj[(16 * 3 + 5) * 48 + 7], a.W_Q().getFloat(3, 7, 5));
      assertEquals(oProj[11 * 64 + 16 * 2 + 9], a.W_O().getFloat(2, 9, 11));
      assertEquals(1 + gIn[4], a.inputNorm().gain().getFloat(4), 0);
      assertNotNull(a.postAttnNorm());
      assertEquals("L1H3", a.headName(3));
    }
  }

  @Test
  void gpt2SplitsFusedConv1dAttention() {
    try (ModelWeights m = ModelWeights.open(TestFiles.datasets().resolve("tiny-gpt2"))) {
      AttentionWeights a = m.attention(1);
      float[] cAttn =
          m.tensors().readFloats("h.1.attn.c_attn.weight"); // [32, 96], Conv1D [in, out]
      assertEquals(cAttn[5 * 96 + 8 * 2 + 3], a.W_Q().getFloat(2, 5, 3));
      assertEquals(cAttn[5 * 96 + 32 + 8 * 2 + 3], a.W_K().getFloat(2, 5, 3));
      assertEquals(cAttn[5 * 96 + 64 + 8 * 2 + 3], a.W_V().getFloat(2, 5, 3));
      assertNotNull(a.bQ());
      assertNotNull(a.inputNorm().bias());
      assertNull(a.postAttnNorm());
      assertEquals(NormKind.LAYER, a.inputNorm().kind());
    }
  }

  @Test
  void llamaFamilyAndBadConfigs() throws IOException {
    Path cfg = dir.resolve("config.json");
    Files.writeString(
        cfg,
        "{\"model_type\":\"qwen2\",\"hidden_size\":64,\"num_hidden_layers\":3,"
            + "\"num_attention_heads\":8,\"num_key_value_heads\":2,\"use_sliding_window\":false,\"sliding_window\":4096}");
    ModelConfig c = ModelConfig.read(cfg);
    assertEquals(8, c.dHead());
    assertEquals(NormKind.RMS, c.norm());
    assertEquals(1, c.kvHead(7));
    assertEquals(0, c.kvHead(3));
    assertFalse(c.isSliding(2));
    Files.writeString(cfg, "{\"model_type\":\"bert\"}");
    SaeLabException e = assertThrows(SaeLabException.class, () -> ModelConfig.read(cfg));
    assertTrue(
        e.getMessage().contains("'bert'") && e.getMessage().contains(cfg.toString()),
        e.getMessage());
    Files.writeString(cfg, "{\"model_type\":\"llama\",\"hidden_size\":\"big\"}");
    e = assertThrows(SaeLabException.class, () -> ModelConfig.read(cfg));
    assertTrue(e.getMessage().contains("'hidden_size'"), e.getMessage());
    Files.writeString(
        cfg,
        "{\"model_type\":\"llama\",\"hidden_size\":64,\"num_hidden_layers\":1,"
            + "\"num_attention_heads\":6,\"num_key_value_heads\":4}");
    e = assertThrows(SaeLabException.class, () -> ModelConfig.read(cfg));
    assertTrue(e.getMessage().contains("multiple"), e.getMessage());
  }

  @Test
  void tensorWithWrongShapeIsNamed() throws IOException {
    Files.writeString(
        dir.resolve("config.json"),
        "{\"model_type\":\"gpt2\",\"n_embd\":4,\"n_layer\":1,\"n_head\":2}");
    var t = new java.util.LinkedHashMap<String, TestFiles.Raw>();
    t.put("h.0.attn.c_attn.weight", TestFiles.f32(new long[] {4, 4}, new float[16]));
    Files.write(dir.resolve("model.safetensors"), TestFiles.safetensors(t, null));
    try (ModelWeights m = ModelWeights.open(dir)) {
      SaeLabException e = assertThrows(SaeLabException.class, () -> m.attention(0));
      assertTrue(
          e.getMessage().contains("'h.0.attn.c_attn.weight'") && e.getMessage().contains("[4, 12]"),
          e.getMessage());
      e = assertThrows(SaeLabException.class, () -> m.attention(3));
      assertTrue(e.getMessage().contains("out of range"), e.getMessage());
    }
  }

  @Test
  void attentionIsReadLazilyPerLayer() {
    try (ModelWeights m = ModelWeights.open(TestFiles.datasets().resolve("tiny-gemma2"))) {
      assertEquals(0, m.tensors().bytesRead());
      INDArray q = m.attention(1).wQ();
      assertArrayEquals(new long[] {48, 64}, q.shape());
      long one = m.tensors().bytesRead();
      assertEquals(2L * (48 * 64 * 2 + 48 * 32 * 2 + 48 + 48), one, "q,o,k,v + two norms, BF16");
      m.attention(1);
      assertEquals(one, m.tensors().bytesRead(), "cached");
    }
  }
}
