package dev.saelab.sae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitSpec;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.QkNorm;
import dev.saelab.io.SaeLabException;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.Progress;
import dev.saelab.model.ModelWeights;
import dev.saelab.testutil.TestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Llama Scope folders (hyperparams.json + checkpoints/final.safetensors), folded as SAELens folds
 * them, against the float64 numpy reference (datasets/reference/dicts2026.py → dicts2026.json).
 */
class LlamaScopeTest {
  static JsonNode ref;
  static Path d;

  @BeforeAll
  static void read() throws Exception {
    d = TestFiles.datasets();
    ref =
        new ObjectMapper()
            .readTree(d.resolve("reference/dicts2026.json").toFile())
            .get("llama_scope");
  }

  static void assertClose(JsonNode want, INDArray got, String what) {
    assertEquals(want.size(), got.length(), what);
    for (int i = 0; i < want.size(); i++) {
      double w = want.get(i).asDouble();
      assertEquals(w, got.getDouble(i), 1e-6 * (1 + Math.abs(w)), what + " [" + i + "]");
    }
  }

  @Test
  void foldsTheDatasetNormAsSaeLensDoes() {
    Path folder = d.resolve(ref.get("folder").asText());
    for (Path p : List.of(folder, folder.resolve("checkpoints/final.safetensors"))) {
      try (SaeDictionary sae = SaeDictionary.open(p)) {
        SaeConfig c = sae.config();
        assertEquals("llama-scope", c.format());
        assertEquals("jumprelu", c.architecture());
        assertEquals(48, c.dIn());
        assertEquals(384, c.dSae());
        assertEquals("blocks.0.hook_resid_post", c.hookName());
        assertEquals(0, c.layer());
        assertEquals(8, c.k());
        assertEquals("tiny-llama3", c.modelName());
        assertEquals(false, c.applyBDecToInput());
        assertEquals(List.of(384L, 48L), List.of(sae.wDec().shape()[0], sae.wDec().shape()[1]));
        for (var e : ref.get("w_dec_rows").properties()) {
          assertClose(e.getValue(), sae.wDec().getRow(Long.parseLong(e.getKey())), "W_dec row");
        }
        for (var e : ref.get("w_enc_cols").properties()) {
          assertClose(
              e.getValue(), sae.wEnc().getColumn(Long.parseLong(e.getKey())), "W_enc column");
        }
        assertClose(ref.get("b_dec"), sae.bDec(), "b_dec");
        INDArray benc = sae.bEnc().orElseThrow();
        for (int i = 0; i < 4; i++) {
          assertEquals(ref.get("b_enc_first").get(i).asDouble(), benc.getDouble(i), 1e-7);
        }
        double s = ref.get("scale").asDouble();
        INDArray th = sae.threshold().orElseThrow();
        assertEquals(384, th.length());
        assertEquals(0.125 * s, th.getDouble(383), 1e-5);
      }
    }
  }

  @Test
  void qkTableOfTinyLlama3Layer1MatchesTheReference() {
    try (ModelWeights model = ModelWeights.open(d.resolve(ref.get("model").asText()));
        SaeDictionary sae = SaeDictionary.open(d.resolve(ref.get("folder").asText()));
        FeatureCircuits fc =
            FeatureCircuits.of(
                model.attention(ref.get("layer").asInt()), sae, sae, sae, QkNorm.PROXY)) {
      for (int h = 0; h < ref.get("qk").size(); h++) {
        List<FeatureEdge> got =
            fc.compute(
                    CircuitSpec.defaults()
                        .withKinds(EnumSet.of(CircuitKind.QK))
                        .withHeads(h)
                        .withTopK(12),
                    Progress.NONE)
                .get(0)
                .edges();
        JsonNode want = ref.get("qk").get(h);
        assertEquals(want.size(), got.size());
        for (int i = 0; i < want.size(); i++) {
          JsonNode w = want.get(i);
          FeatureEdge e = got.get(i);
          String at = "head " + h + " entry " + i + ": " + e + " vs " + w;
          assertEquals(w.get(0).asInt(), e.row(), at);
          assertEquals(w.get(1).asInt(), e.col(), at);
          double v = w.get(2).asDouble();
          assertEquals(v, e.value(), 2e-5 * Math.abs(v) + 1e-5, at);
        }
      }
    }
  }

  static Path copyWith(Path tmp, Consumer<ObjectNode> edit) throws Exception {
    Path src = d.resolve(ref.get("folder").asText());
    Path dst = tmp.resolve("L0R-8x");
    Files.createDirectories(dst.resolve("checkpoints"));
    Files.copy(
        src.resolve("checkpoints/final.safetensors"), dst.resolve("checkpoints/final.safetensors"));
    ObjectMapper om = new ObjectMapper();
    ObjectNode hp = (ObjectNode) om.readTree(src.resolve("hyperparams.json").toFile());
    edit.accept(hp);
    om.writeValue(dst.resolve("hyperparams.json").toFile(), hp);
    return dst;
  }

  @Test
  void refusesWhatItCannotScaleWithOneLine(@TempDir Path tmp) throws Exception {
    Path a = copyWith(tmp.resolve("a"), hp -> hp.put("norm_activation", "token-wise"));
    String m = assertThrows(SaeLabException.class, () -> SaeDictionary.open(a)).getMessage();
    assertTrue(m.contains("hyperparams.json") && m.contains("norm_activation"), m);
    Path b = copyWith(tmp.resolve("b"), hp -> hp.remove("dataset_average_activation_norm"));
    m = assertThrows(SaeLabException.class, () -> SaeDictionary.open(b)).getMessage();
    assertTrue(m.contains("dataset_average_activation_norm.in"), m);
    Path c = copyWith(tmp.resolve("c"), hp -> hp.put("hook_point_out", "blocks.0.hook_mlp_out"));
    m = assertThrows(SaeLabException.class, () -> SaeDictionary.open(c)).getMessage();
    assertTrue(m.contains("hook_point_out") && m.contains("transcoder"), m);
    Path e = copyWith(tmp.resolve("e"), hp -> hp.put("d_sae", 100));
    m = assertThrows(SaeLabException.class, () -> SaeDictionary.open(e)).getMessage();
    assertTrue(m.contains("final.safetensors") && m.contains("d_sae=100"), m);
    assertEquals(1, m.lines().count(), m);
  }
}
