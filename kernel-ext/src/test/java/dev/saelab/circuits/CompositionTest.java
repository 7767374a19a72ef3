package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Composition between heads (math.md §19) against the committed numpy reference
 * (datasets/reference/composition.py → composition.json) on tiny-gemma2, tiny-gpt2 and the planted
 * tiny-composition model, and the planted paths (datasets/generate_composition.py).
 */
class CompositionTest {
  static JsonNode ref;

  @BeforeAll
  static void read() throws IOException {
    ref =
        new ObjectMapper()
            .readTree(TestFiles.datasets().resolve("reference/composition.json").toFile());
  }

  static void near(double expected, double got, String what) {
    assertEquals(expected, got, 1e-5 * Math.abs(expected) + 1e-9, what);
  }

  @Test
  void tinyGemma2MatchesTheReference() {
    check("tiny-gemma2");
  }

  @Test
  void tinyGpt2MatchesTheReference() {
    check("tiny-gpt2");
  }

  @Test
  void tinyCompositionMatchesTheReference() {
    check("tiny-composition");
  }

  private static void check(String key) {
    JsonNode m = ref.get(key);
    Path d = TestFiles.datasets();
    int features = 0;
    try (ModelWeights model = ModelWeights.open(d.resolve(m.get("model").asText()));
        SaeDictionary sae = SaeDictionary.open(d.resolve(m.get("sae").asText()));
        Composition c = Composition.of(model)) {
      assertEquals(m.get("pairs").size(), c.paths().size(), key);
      for (JsonNode p : m.get("pairs")) {
        CompositionPath path =
            c.path(
                p.get("source").get(0).asInt(),
                p.get("source").get(1).asInt(),
                p.get("target").get(0).asInt(),
                p.get("target").get(1).asInt(),
                CompositionPath.Kind.parse(p.get("kind").asText()));
        String what = key + " " + path;
        near(p.get("score").asDouble(), path.score(), what);
        near(p.get("composite_norm").asDouble(), path.compositeNorm(), what + " ‖M‖");
        near(p.get("source_norm").asDouble(), path.sourceNorm(), what + " ‖OV_A‖");
        near(p.get("target_norm").asDouble(), path.targetNorm(), what + " ‖W_B‖");
        Composition.Directions dir = c.directions(path);
        double total = 0;
        for (int k = 0; k < dir.shares().length; k++) {
          near(p.get("sigma").get(k).asDouble(), dir.sigma()[k], what + " σ_" + k);
          near(p.get("direction_shares").get(k).asDouble(), dir.shares()[k], what + " share " + k);
          total += dir.shares()[k];
        }
        assertEquals(1, total, 1e-9, what);
        if (p.has("features")) {
          Composition.Features f = c.features(path, sae, 10);
          near(p.get("feature_share_total").asDouble(), f.featureShare(), what + " Σ share");
          for (int i = 0; i < 10; i++) {
            JsonNode e = p.get("features").get(i);
            Composition.Feature got = f.top().get(i);
            assertEquals(e.get("feature").asInt(), got.feature(), what + " feature #" + i);
            near(e.get("strength").asDouble(), got.strength(), what + " strength #" + i);
            near(e.get("share").asDouble(), got.share(), what + " share #" + i);
            near(
                got.strength(),
                got.write() * got.read() / (path.sourceNorm() * path.targetNorm()),
                what + " strength = write·read");
          }
          features++;
        } else {
          assertThrows(IllegalArgumentException.class, () -> c.features(path, sae, 10), what);
        }
      }
    }
    assertTrue(features > 0, key + ": no feature splits compared");
  }

  @Test
  void plantedPathsAreFoundWithTheirFeatures() {
    Path d = TestFiles.datasets().resolve("tiny-composition");
    try (ModelWeights model = ModelWeights.open(d.resolve("model"));
        SaeDictionary sae = SaeDictionary.open(d.resolve("blocks.1.hook_resid_pre"));
        Composition c = Composition.of(model)) {
      CompositionPath best = c.paths().get(0);
      assertEquals("Q L0H1 -> L1H2", best.kind() + " " + best.source() + " -> " + best.target());
      assertTrue(
          best.score() > 0.9 && c.paths().get(1).score() < 0.85,
          c.paths().subList(0, 3).toString());
      Composition.Features f = c.features(best, sae, 5);
      assertEquals(11, f.top().get(0).feature());
      assertTrue(f.top().get(0).strength() > 3 * f.top().get(1).strength(), f.top().toString());
      assertTrue(f.top().get(0).share() > 0.5, f.top().toString());
      // B's planted query reads one direction: it carries the composition
      Composition.Directions dir = c.directions(best);
      assertEquals(0, dir.order()[0]);
      assertEquals(1, dir.directionsFor(0.9), dir.toString());

      CompositionPath k = c.strongest(1, EnumSet.of(CompositionPath.Kind.K)).get(0);
      assertEquals("K L0H3 -> L2H0", k.kind() + " " + k.source() + " -> " + k.target());
      assertEquals(37, c.features(k, sae, 3).top().get(0).feature());
      // the strongest path of the unplanted kind is weak
      assertTrue(c.strongest(1, EnumSet.of(CompositionPath.Kind.V)).get(0).score() < 0.5);
    }
  }

  @Test
  void layerSubsetsAndHeatMap() {
    Path d = TestFiles.datasets().resolve("tiny-composition/model");
    try (ModelWeights model = ModelWeights.open(d);
        Composition all = Composition.of(model);
        Composition sub = Composition.of(model, 2, 0, 2)) {
      assertEquals(List.of(0, 2), java.util.Arrays.stream(sub.layers()).boxed().toList());
      assertEquals(4 * 4 * 3, sub.paths().size());
      CompositionPath p = sub.path(0, 3, 2, 0, CompositionPath.Kind.K);
      assertEquals(all.path(0, 3, 2, 0, CompositionPath.Kind.K), p);
      double[][] z = all.strongestScores();
      assertEquals(12, z.length);
      assertEquals(all.paths().get(0).score(), z[4 + 2][1]);
      assertEquals(0, z[1][6]); // a later head never composes into an earlier one
      assertEquals("L1H2", all.headNames().get(6));
    }
  }

  @Test
  void badInputsAreOneLine() {
    Path d = TestFiles.datasets();
    try (ModelWeights model = ModelWeights.open(d.resolve("tiny-composition/model"));
        ModelWeights gemma = ModelWeights.open(d.resolve("tiny-gemma2"));
        SaeDictionary wide =
            SaeDictionary.open(d.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12"));
        Composition c = Composition.of(model, 1, 2);
        SaeDictionary sae =
            SaeDictionary.open(d.resolve("tiny-composition/blocks.1.hook_resid_pre"))) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> Composition.of(model, 1));
      assertTrue(e.getMessage().contains("at least two layers"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> Composition.of(model, 0, 3));
      assertTrue(e.getMessage().contains("layers 0..2"), e.getMessage());
      CompositionPath p = c.paths().get(0);
      e = assertThrows(IllegalArgumentException.class, () -> c.features(p, sae, 3));
      assertTrue(e.getMessage().contains("not a stream between"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> c.features(p, wide, 3));
      assertTrue(e.getMessage().contains("d_model=32"), e.getMessage());
      assertTrue(gemma.config().nLayers() == 2);
    }
  }
}
