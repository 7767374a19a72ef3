package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.io.SaeLabException;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.Progress;
import dev.saelab.linalg.RankBy;
import dev.saelab.linalg.Screen;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The shipped datasets against the committed numpy reference (datasets/reference/tables.py →
 * tables.json).
 */
class FeatureCircuitsTest {
  static ModelWeights gemma;
  static SaeDictionary in;
  static SaeDictionary out;
  static JsonNode ref;

  @BeforeAll
  static void open() throws IOException {
    Path d = TestFiles.datasets();
    gemma = ModelWeights.open(d.resolve("tiny-gemma2"));
    in = SaeDictionary.open(d.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12"));
    out = SaeDictionary.open(d.resolve("tiny-gemma-scope/layer_1/width_96/average_l0_9"));
    ref = new ObjectMapper().readTree(d.resolve("reference/tables.json").toFile());
  }

  @AfterAll
  static void close() {
    gemma.close();
    in.close();
    out.close();
  }

  static void assertMatches(JsonNode expected, CircuitTable got, String what) {
    assertEquals(expected.size(), got.edges().size(), what);
    for (int i = 0; i < expected.size(); i++) {
      JsonNode e = expected.get(i);
      FeatureEdge g = got.edges().get(i);
      String at = what + " rank " + (i + 1);
      assertEquals(
          e.get(2).asDouble() * got.scale(),
          g.value(),
          2e-5 * (1 + Math.abs(e.get(2).asDouble())),
          at);
      assertEquals(e.get(0).asInt(), g.row(), at);
      assertEquals(e.get(1).asInt(), g.col(), at);
    }
  }

  @Test
  void int8AndFloat32ScreensGiveIdenticalTablesForEveryHeadAndVariant() {
    for (CircuitSpec spec :
        new CircuitSpec[] {
          CircuitSpec.defaults().withTopK(40),
          CircuitSpec.defaults().withTopK(25).withRankBy(RankBy.NEG_VALUE).withExcludeSelf(true),
          CircuitSpec.defaults().withTopK(30).withCosine(true).withQueryScale(true)
        }) {
      List<List<CircuitTable>> runs = new java.util.ArrayList<>();
      for (Screen s : Screen.values()) {
        try (FeatureCircuits fc = FeatureCircuits.of(gemma.attention(1), in, in, out).screen(s)) {
          runs.add(fc.compute(spec, Progress.NONE));
          assertTrue(fc.stats().rescored() >= 40, "rescored " + fc.stats().rescored());
        }
      }
      assertEquals(runs.get(0), runs.get(1), spec.toString());
    }
  }

  @Test
  void gemmaTablesMatchNumpyForEveryHead() {
    JsonNode r = ref.get("gemma2_layer1");
    try (FeatureCircuits fc = FeatureCircuits.of(gemma.attention(1), in, in, out).tiles(16, 32)) {
      List<CircuitTable> t = fc.compute(CircuitSpec.defaults().withTopK(12), Progress.NONE);
      assertEquals(8, t.size());
      for (int h = 0; h < 4; h++) {
        assertMatches(r.get("qk").get(h), t.get(h), "QK L1H" + h);
        assertMatches(r.get("ov").get(h), t.get(4 + h), "OV L1H" + h);
      }
      List<CircuitTable> distinct =
          fc.compute(
              CircuitSpec.defaults()
                  .withTopK(12)
                  .withExcludeSelf(true)
                  .withKinds(EnumSet.of(CircuitKind.QK)),
              Progress.NONE);
      for (int h = 0; h < 4; h++) {
        assertMatches(r.get("qk_distinct").get(h), distinct.get(h), "distinct QK L1H" + h);
      }
      CircuitTable scaled =
          fc.compute(
                  CircuitSpec.defaults()
                      .withTopK(12)
                      .withQueryScale(true)
                      .withHeads(1)
                      .withKinds(EnumSet.of(CircuitKind.QK)),
                  Progress.NONE)
              .get(0);
      assertEquals(r.get("query_scale").asDouble(), scaled.scale(), 1e-12);
      assertMatches(r.get("qk").get(1), scaled, "scaled QK L1H1");
    }
  }

  @Test
  void plantedPairsComeOutAtRankOne() {
    try (FeatureCircuits fc = FeatureCircuits.of(gemma.attention(1), in, in, out)) {
      List<CircuitTable> t = fc.compute(CircuitSpec.defaults().withTopK(1), Progress.NONE);
      FeatureEdge qk = t.get(1).edges().get(0); // QK head 1: query 17 -> key 42
      assertEquals(17, qk.row());
      assertEquals(42, qk.col());
      FeatureEdge ov = t.get(4 + 2).edges().get(0); // OV head 2: value 5 -> output 63
      assertEquals(5, ov.row());
      assertEquals(63, ov.col());
    }
  }

  @Test
  void gpt2CentringAndConv1dMatchNumpy() {
    Path d = TestFiles.datasets();
    JsonNode r = ref.get("gpt2_layer1");
    try (ModelWeights m = ModelWeights.open(d.resolve("tiny-gpt2"));
        SaeDictionary pre = SaeDictionary.open(d.resolve("tiny-saelens/blocks.1.hook_resid_pre"));
        SaeDictionary post =
            SaeDictionary.open(d.resolve("tiny-saelens/blocks.1.hook_resid_post"));
        FeatureCircuits fc = FeatureCircuits.of(m.attention(1), pre, pre, post)) {
      List<CircuitTable> t = fc.compute(CircuitSpec.defaults().withTopK(12), Progress.NONE);
      for (int h = 0; h < 4; h++) {
        assertMatches(r.get("qk").get(h), t.get(h), "GPT-2 QK L1H" + h);
        assertMatches(r.get("ov").get(h), t.get(4 + h), "GPT-2 OV L1H" + h);
      }
      assertEquals(3, t.get(1).edges().get(0).row());
      assertEquals(9, t.get(4 + 3).edges().get(0).row());
    }
  }

  @Test
  void bostockFiltersKeepOrderAndDropRows() {
    CircuitTable t =
        new CircuitTable(
            CircuitKind.QK,
            13,
            0,
            RankBy.ABS,
            1,
            List.of(new FeatureEdge(1, 2, -3), new FeatureEdge(4, 4, 2), new FeatureEdge(5, 6, 1)));
    assertEquals(
        List.of(new FeatureEdge(1, 2, -3), new FeatureEdge(5, 6, 1)), t.distinct().edges());
    assertEquals(List.of(new FeatureEdge(5, 6, 1)), t.distinctPositive().edges());
    assertEquals("L13H0", t.headName());
  }

  @Test
  void badRequestsGetClearErrors() {
    try (FeatureCircuits qkOnly = FeatureCircuits.of(gemma.attention(1), in, in, null)) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> qkOnly.compute(CircuitSpec.defaults(), Progress.NONE));
      assertTrue(
          e.getMessage()
              .contains(
                  "the OV circuit needs an output SAE (the SAE on the layer's output stream)"),
          e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  qkOnly.compute(
                      CircuitSpec.defaults().withHeads(9).withKinds(EnumSet.of(CircuitKind.QK)),
                      Progress.NONE));
      assertTrue(e.getMessage().contains("head 9"), e.getMessage());
    }
    try (SaeDictionary gpt =
        SaeDictionary.open(TestFiles.datasets().resolve("tiny-saelens/blocks.1.hook_resid_pre"))) {
      SaeLabException e =
          assertThrows(
              SaeLabException.class, () -> FeatureCircuits.of(gemma.attention(1), gpt, gpt, null));
      assertTrue(
          e.getMessage().contains("d_in=32") && e.getMessage().contains("d_model=48"),
          e.getMessage());
    }
  }
}
