package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.io.SaeLabException;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.Progress;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Today's models (Gemma 3 flat and nested, Qwen3, Llama 3) against the independent float64 numpy
 * reference (datasets/reference/models2026.py → models2026.json): per-layer RoPE, q/k norms in the
 * exact and proxy forms, OV, positional tables and b_dec profiles.
 */
class Models2026Test {
  static JsonNode ref;
  static Path d;

  @BeforeAll
  static void read() throws Exception {
    d = TestFiles.datasets();
    ref = new ObjectMapper().readTree(d.resolve("reference/models2026.json").toFile());
  }

  static void assertTop(JsonNode want, List<FeatureEdge> got, String what) {
    assertEquals(want.size(), got.size(), what);
    for (int i = 0; i < want.size(); i++) {
      JsonNode w = want.get(i);
      FeatureEdge e = got.get(i);
      String at = what + " entry " + i + ": " + e + " vs " + w;
      assertEquals(w.get(0).asInt(), e.row(), at);
      assertEquals(w.get(1).asInt(), e.col(), at);
      double v = w.get(2).asDouble();
      assertEquals(v, e.value(), 2e-5 * Math.abs(v) + 1e-5, at);
    }
  }

  static List<FeatureEdge> table(FeatureCircuits fc, CircuitKind kind, int head, CircuitSpec base) {
    return fc.compute(base.withKinds(EnumSet.of(kind)).withHeads(head).withTopK(12), Progress.NONE)
        .get(0)
        .edges();
  }

  @ParameterizedTest
  @ValueSource(strings = {"gemma3", "gemma3_nested", "qwen3", "llama3"})
  void tablesProfilesAndRopeMatchTheNumpyReference(String key) {
    JsonNode r = ref.get(key);
    int layer = r.get("layer").asInt();
    boolean qkNorm = r.path("config").path("qk_norm").asBoolean();
    try (ModelWeights model = ModelWeights.open(d.resolve(r.get("folder").asText()));
        SaeDictionary in = SaeDictionary.open(d.resolve(r.get("input_sae").asText()));
        SaeDictionary out = SaeDictionary.open(d.resolve(r.get("output_sae").asText()))) {
      ModelConfig c = model.config();
      assertEquals(qkNorm, c.qkNorm() != null, key);
      for (JsonNode l : r.get("config").get("layers")) {
        int li = l.get("layer").asInt();
        assertEquals(l.get("sliding").asBoolean(), c.isSliding(li), key + " layer " + li);
        double[] f = c.ropeFor(li).invFreq(c.dHead());
        for (int j = 0; j < f.length; j++) {
          double w = l.get("inv_freq").get(j).asDouble();
          assertEquals(w, f[j], 1e-12 * w, key + " layer " + li + " inv_freq " + j);
        }
      }
      AttentionWeights attn = model.attention(layer);
      int one = r.get("one_head").asInt();
      for (QkNorm mode : qkNorm ? QkNorm.values() : new QkNorm[] {QkNorm.PROXY}) {
        String name = qkNorm ? mode.id() : "proxy";
        try (FeatureCircuits fc = FeatureCircuits.of(attn, in, in, out, mode)) {
          for (int h = 0; h < c.nHeads(); h++) {
            assertTop(
                r.get("qk_" + name).get(h),
                table(fc, CircuitKind.QK, h, CircuitSpec.defaults()),
                key + " QK " + name + " head " + h);
          }
          JsonNode scaled = r.get("qk_" + name + "_scaled");
          assertTop(
              scaled.get("top"),
              table(
                  fc,
                  CircuitKind.QK,
                  scaled.get("head").asInt(),
                  CircuitSpec.defaults().withQueryScale(true)),
              key + " QK " + name + " scaled");
          JsonNode rope = r.get("rope_tables");
          if (rope.has(name)) {
            for (String delta : List.of("1", "2")) {
              assertTop(
                  rope.get(name).get(delta),
                  table(
                      fc,
                      CircuitKind.QK,
                      rope.get("head").asInt(),
                      CircuitSpec.defaults()
                          .withPosition(Integer.parseInt(delta), Rope.Pairing.ROTATE_HALF)),
                  key + " QK " + name + " at Δ " + delta);
            }
          }
          if (mode == QkNorm.EXACT || !qkNorm) {
            for (int h = 0; h < c.nHeads(); h++) {
              assertTop(
                  r.get("ov").get(h),
                  table(fc, CircuitKind.OV, h, CircuitSpec.defaults()),
                  key + " OV head " + h);
            }
          }
        }
        String profileKey = qkNorm ? name : r.get("profile_bdec").has("proxy") ? "proxy" : "exact";
        assertProfile(r.get("profile_bdec"), profileKey, attn, in, mode, key + " profile " + name);
      }
      assertTrue(one >= 0 && one < c.nHeads());
    }
  }

  static void assertProfile(
      JsonNode p, String form, AttentionWeights attn, SaeDictionary sae, QkNorm mode, String what) {
    int[] deltas = new int[p.get("deltas").size()];
    for (int i = 0; i < deltas.length; i++) {
      deltas[i] = p.get("deltas").get(i).asInt();
    }
    List<PositionalProfile.Point> pts =
        PositionalProfile.ofSae(
            attn,
            Rope.of(attn.config(), attn.layer(), Rope.Pairing.ROTATE_HALF),
            sae,
            sae,
            null,
            HeadSet.all(),
            deltas,
            1.0,
            mode);
    JsonNode heads = p.get(form);
    int i = 0;
    for (int h = 0; h < heads.size(); h++) {
      for (JsonNode w : heads.get(h)) {
        PositionalProfile.Point pt = pts.get(i++);
        String at = what + " head " + h + " Δ " + w.get(0).asInt();
        assertEquals(h, pt.head(), at);
        assertEquals(w.get(0).asInt(), pt.delta(), at);
        assertEquals(
            w.get(1).asDouble(), pt.score(), 2e-5 * Math.abs(w.get(1).asDouble()) + 1e-5, at);
        assertEquals(w.get(2).asBoolean(), pt.masked(), at);
      }
    }
    assertEquals(pts.size(), i, what);
  }

  @Test
  void aSlidingLayerUsesItsOwnBaseAndMasksPastTheWindow() {
    JsonNode r = ref.get("gemma3");
    JsonNode p = r.get("profile_bdec_sliding");
    try (ModelWeights model = ModelWeights.open(d.resolve(r.get("folder").asText()));
        SaeDictionary sae = SaeDictionary.open(d.resolve(p.get("sae").asText()))) {
      for (QkNorm mode : QkNorm.values()) {
        assertProfile(
            p,
            mode.id(),
            model.attention(p.get("layer").asInt()),
            sae,
            mode,
            "sliding layer profile " + mode.id());
      }
    }
  }

  @Test
  void thePlantedPairIsFirstOnlyWhenQueriesAndKeysAreNormalised() {
    try (ModelWeights model = ModelWeights.open(d.resolve("tiny-gemma3"));
        SaeDictionary in =
            SaeDictionary.open(
                d.resolve("tiny-gemma-scope-2/resid_post/layer_2_width_128_l0_small"));
        FeatureCircuits exact = FeatureCircuits.of(model.attention(3), in, in, null, QkNorm.EXACT);
        FeatureCircuits proxy =
            FeatureCircuits.of(model.attention(3), in, in, null, QkNorm.PROXY)) {
      CircuitSpec spec =
          CircuitSpec.defaults().withKinds(EnumSet.of(CircuitKind.QK)).withHeads(1).withTopK(3);
      CircuitTable e = exact.compute(spec, Progress.NONE).get(0);
      CircuitTable p = proxy.compute(spec, Progress.NONE).get(0);
      assertEquals(List.of(21, 77), List.of(e.edges().get(0).row(), e.edges().get(0).col()));
      assertNotEquals(List.of(21, 77), List.of(p.edges().get(0).row(), p.edges().get(0).col()));
      assertEquals("exact", e.variant());
      assertEquals("proxy", p.variant());
      assertTrue(e.qkNormNote().contains("exact"), e.qkNormNote());
    }
  }

  @Test
  void theNestedModelNeverOpensItsVisionShard(@TempDir Path tmp) throws Exception {
    Path copy = tmp.resolve("gemma3-nested");
    Files.createDirectories(copy);
    try (Stream<Path> s = Files.list(d.resolve("tiny-gemma3-nested"))) {
      for (Path f : s.toList()) {
        Files.copy(f, copy.resolve(f.getFileName()));
      }
    }
    // the vision tower's shard becomes garbage: opening it would fail
    Files.write(copy.resolve("model-00002-of-00002.safetensors"), new byte[] {1, 2, 3});
    try (ModelWeights m = ModelWeights.open(copy)) {
      assertEquals("gemma3_text", m.config().modelType());
      assertEquals(16, m.attention(3).qNorm().gain().length(), "q_norm over d_head");
    }
  }

  @Test
  void badConfigsAndWeightsAreOneLineNamingTheFieldOrTensor(@TempDir Path tmp) throws Exception {
    // a Qwen3 config over weights without q_norm
    Path noNorm = tmp.resolve("no-qnorm");
    Files.createDirectories(noNorm);
    Files.copy(d.resolve("tiny-llama3/model.safetensors"), noNorm.resolve("model.safetensors"));
    String cfg = Files.readString(d.resolve("tiny-qwen3/config.json"));
    Files.writeString(noNorm.resolve("config.json"), cfg);
    try (ModelWeights m = ModelWeights.open(noNorm)) {
      SaeLabException e = assertThrows(SaeLabException.class, () -> m.attention(1));
      assertTrue(
          e.getMessage().contains("self_attn.q_norm.weight") && e.getMessage().contains("qwen3"),
          e.getMessage());
      assertFalse(e.getMessage().contains("\n"));
    }
    // a nested Gemma 3 config whose text_config lacks head_dim
    Path nested = tmp.resolve("nested");
    Files.createDirectories(nested);
    ObjectMapper om = new ObjectMapper();
    JsonNode c = om.readTree(d.resolve("tiny-gemma3-nested/config.json").toFile());
    ((com.fasterxml.jackson.databind.node.ObjectNode) c.get("text_config")).remove("head_dim");
    Files.writeString(nested.resolve("config.json"), om.writeValueAsString(c));
    Path cfgFile = nested.resolve("config.json");
    SaeLabException e = assertThrows(SaeLabException.class, () -> ModelConfig.read(cfgFile));
    assertTrue(e.getMessage().contains("text_config.head_dim"), e.getMessage());
  }

  @Test
  void headSvdOfAQkNormModelIsTheProxysBilinearForm() {
    try (ModelWeights model = ModelWeights.open(d.resolve("tiny-gemma3"));
        SaeDictionary in =
            SaeDictionary.open(
                d.resolve("tiny-gemma-scope-2/resid_post/layer_2_width_128_l0_small"));
        FeatureCircuits proxy =
            FeatureCircuits.of(model.attention(3), in, in, null, QkNorm.PROXY)) {
      CircuitSpec spec =
          CircuitSpec.defaults().withKinds(EnumSet.of(CircuitKind.QK)).withHeads(1).withTopK(3);
      HeadSvd svd = HeadSvd.qk(model.attention(3), 1, false);
      for (FeatureEdge e : proxy.compute(spec, Progress.NONE).get(0).edges()) {
        double total =
            svd.split(
                    in.wDec().getRow(e.row()).toDoubleVector(),
                    in.wDec().getRow(e.col()).toDoubleVector())
                .total();
        assertEquals(e.value(), total, 1e-4 * Math.abs(e.value()) + 1e-5, e.toString());
      }
    }
  }
}
