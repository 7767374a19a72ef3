package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.forward.Activations;
import dev.saelab.forward.ForwardPass;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.FeatureActivations;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.sae.SaeEncoder;
import dev.saelab.testutil.TestFiles;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Weights vs behaviour: Spearman by hand, predictions against the tables' own entries. */
class ScoreValidationTest {
  private static final int[] IDS = {2, 17, 5, 33, 9, 41, 12, 60};

  /**
   * The whole path — Java forward pass, SAE encoding, folded tables, predictions, ρ — against the
   * independent float64 numpy reference (datasets/reference/validation.py → validation.json), for a
   * model of each family and an SAE of each kind.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"gemma2", "gpt2", "qwen3", "llama3"})
  void matchesTheNumpyReference(String key) throws java.io.IOException {
    java.nio.file.Path d = TestFiles.datasets();
    com.fasterxml.jackson.databind.JsonNode ref =
        new com.fasterxml.jackson.databind.ObjectMapper()
            .readTree(d.resolve("reference/validation.json").toFile());
    com.fasterxml.jackson.databind.JsonNode c = ref.get(key);
    int[] ids = new int[ref.get("token_ids").size()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = ref.get("token_ids").get(i).asInt();
    }
    java.nio.file.Path saePath = d.resolve(c.get("sae").asText());
    if (saePath.getFileName().toString().equals("params.npz")) {
      saePath = saePath.getParent();
    }
    try (ModelWeights m = ModelWeights.open(d.resolve(c.get("model").asText()));
        SaeDictionary sae = SaeDictionary.open(saePath);
        Activations a =
            ForwardPass.run(
                m, ids, List.of("blocks.1.hook_resid_pre", "blocks.1.attn.hook_attn_scores"));
        FeatureActivations acts = SaeEncoder.of(sae).encode(a.get("blocks.1.hook_resid_pre"))) {
      for (com.fasterxml.jackson.databind.JsonNode p : c.get("active")) {
        int pos = p.get("position").asInt();
        int[] want = new int[p.get("features").size()];
        for (int i = 0; i < want.length; i++) {
          want[i] = p.get("features").get(i).asInt();
          assertEquals(
              p.get("values").get(i).asDouble(),
              acts.activation(pos, want[i]),
              1e-4 * (1 + Math.abs(p.get("values").get(i).asDouble())),
              key + " activation");
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(
            want, acts.features(pos), key + " position " + pos);
      }
      INDArray scores = a.get("blocks.1.attn.hook_attn_scores");
      ScoreValidation v =
          ScoreValidation.of(m.attention(1), sae, acts, scores, QkNorm.EXACT, false);
      ScoreValidation skip =
          ScoreValidation.of(m.attention(1), sae, acts, scores, QkNorm.EXACT, true);
      boolean rope = !c.get("pred_rope").isNull();
      for (com.fasterxml.jackson.databind.JsonNode h : c.get("heads")) {
        int head = h.get("head").asInt();
        assertEquals(h.get("pairs").asInt(), v.heads().get(head).pairs());
        assertEquals(h.get("rho").asDouble(), v.heads().get(head).rho(), 1e-9, key + " ρ");
        assertEquals(
            h.get("rho_skip_first").asDouble(), skip.heads().get(head).rho(), 1e-9, key + " ρ");
        if (rope) {
          assertEquals(
              h.get("rho_rope").asDouble(), v.heads().get(head).rhoRope(), 1e-9, key + " ρ RoPE");
          assertEquals(
              h.get("rho_rope_skip_first").asDouble(),
              skip.heads().get(head).rhoRope(),
              1e-9,
              key + " ρ RoPE");
        } else {
          assertTrue(Double.isNaN(v.heads().get(head).rhoRope()), "GPT-2 has no RoPE");
        }
        for (int t = 0; t < ids.length; t++) {
          for (int u = 0; u <= t; u++) {
            double want = c.get("pred").get(head).get(t).get(u).asDouble();
            assertEquals(want, v.predicted(head, t, u), 1e-4 * (1 + Math.abs(want)), key);
            if (rope) {
              double wr = c.get("pred_rope").get(head).get(t).get(u).asDouble();
              assertEquals(wr, v.predictedRope(head, t, u), 1e-4 * (1 + Math.abs(wr)), key);
            }
          }
        }
      }
      int bands = 0;
      for (com.fasterxml.jackson.databind.JsonNode b : c.get("bands")) {
        for (ScoreValidation.Band got : v.bands()) {
          if (got.head() == b.get("head").asInt() && got.lo() == b.get("lo").asInt()) {
            assertEquals(b.get("hi").asInt(), got.hi());
            assertEquals(b.get("pairs").asInt(), got.pairs());
            assertEquals(b.get("rho").asDouble(Double.NaN), got.rho(), 1e-9, key + " band");
            bands++;
          }
        }
      }
      assertEquals(c.get("bands").size(), bands, "every reference band found");
      assertEquals(c.get("bands").size(), v.bands().size(), "no extra bands");
    }
  }

  @Test
  void spearmanByHand() {
    // ranks of y: 1 2 3.5 5 3.5; Σ(rx−3)(ry−3) = 8, Σ(rx−3)² = 10, Σ(ry−3)² = 9.5
    assertEquals(
        8 / Math.sqrt(95),
        ScoreValidation.spearman(new double[] {1, 2, 3, 4, 5}, new double[] {5, 6, 7, 8, 7}),
        1e-15);
    assertEquals(
        -1, ScoreValidation.spearman(new double[] {1, 2, 3}, new double[] {9, 4, -1}), 1e-15);
    assertTrue(Double.isNaN(ScoreValidation.spearman(new double[] {1, 2}, new double[] {1, 2})));
    assertTrue(
        Double.isNaN(ScoreValidation.spearman(new double[] {1, 2, 3}, new double[] {4, 4, 4})));
  }

  @Test
  void predictionsAreTheTablesEntriesWeightedByActivations() {
    try (ModelWeights m = ModelWeights.open(TestFiles.datasets().resolve("tiny-gemma2"));
        SaeDictionary sae =
            SaeDictionary.open(
                TestFiles.datasets().resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12"));
        Activations a =
            ForwardPass.run(
                m, IDS, List.of("blocks.1.hook_resid_pre", "blocks.1.attn.hook_attn_scores"));
        FeatureActivations acts = SaeEncoder.of(sae).encode(a.get("blocks.1.hook_resid_pre"));
        FeatureCircuits fc = FeatureCircuits.of(m.attention(1), sae, sae, null)) {
      INDArray scores = a.get("blocks.1.attn.hook_attn_scores");
      ScoreValidation v =
          ScoreValidation.of(m.attention(1), sae, acts, scores, QkNorm.EXACT, false);
      int n = m.config().nHeads();
      assertEquals(n, v.heads().size());
      int checked = 0;
      for (int h = 0; h < n; h++) {
        for (int t = 0; t < IDS.length; t++) {
          for (int u = 0; u <= t; u++) {
            int[] qf = acts.features(t);
            int[] kf = acts.features(u);
            double[][] block = fc.block(CircuitKind.QK, h, qf, kf);
            double want = 0;
            for (int i = 0; i < qf.length; i++) {
              for (int j = 0; j < kf.length; j++) {
                want += acts.activation(t, qf[i]) * acts.activation(u, kf[j]) * block[i][j];
              }
            }
            assertEquals(want, v.predicted(h, t, u), 1e-4 * (1 + Math.abs(want)));
            checked += qf.length * kf.length > 0 ? 1 : 0;
          }
        }
        ScoreValidation.Head head = v.heads().get(h);
        assertEquals(IDS.length * (IDS.length + 1) / 2, head.pairs(), "every causal pair");
        assertFalse(Double.isNaN(head.rho()));
        assertFalse(Double.isNaN(head.rhoRope()), "tiny-gemma2 has RoPE");
      }
      assertTrue(checked > 20, "features fire on the prompt: " + checked);
      assertEquals(
          IDS.length * (IDS.length + 1) / 2 * n,
          v.bands().stream().mapToInt(ScoreValidation.Band::pairs).sum(),
          "bands partition the pairs");
    }
  }

  @Test
  void scoresEqualToThePredictionCorrelatePerfectly() {
    try (ModelWeights m = ModelWeights.open(TestFiles.datasets().resolve("tiny-gemma2"));
        SaeDictionary sae =
            SaeDictionary.open(
                TestFiles.datasets().resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12"));
        Activations a = ForwardPass.run(m, IDS, List.of("blocks.1.hook_resid_pre"));
        FeatureActivations acts = SaeEncoder.of(sae).encode(a.get("blocks.1.hook_resid_pre"))) {
      int n = m.config().nHeads();
      int t = IDS.length;
      INDArray zero = Nd4j.zeros(n, t, t);
      ScoreValidation first =
          ScoreValidation.of(m.attention(1), sae, acts, zero, QkNorm.EXACT, false);
      double[][][] s = new double[n][t][t];
      double[][][] neg = new double[n][t][t];
      for (int h = 0; h < n; h++) {
        for (int i = 0; i < t; i++) {
          for (int j = 0; j < t; j++) {
            s[h][i][j] = j <= i ? first.predictedRope(h, i, j) : Double.NEGATIVE_INFINITY;
            neg[h][i][j] = -s[h][i][j];
          }
        }
      }
      ScoreValidation same =
          ScoreValidation.of(m.attention(1), sae, acts, Nd4j.create(s), QkNorm.EXACT, true);
      ScoreValidation rev =
          ScoreValidation.of(m.attention(1), sae, acts, Nd4j.create(neg), QkNorm.EXACT, true);
      for (int h = 0; h < n; h++) {
        assertEquals(1, same.heads().get(h).rhoRope(), 1e-6);
        assertEquals(-1, rev.heads().get(h).rhoRope(), 1e-6);
        assertEquals((t - 1) * t / 2, same.heads().get(h).pairs(), "position 0 skipped");
      }
      assertEquals(1, same.meanRhoRope(), 1e-6);
      assertTrue(Double.isNaN(first.meanRho()), "constant real scores: no correlation");
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  ScoreValidation.of(
                      m.attention(1), sae, acts, Nd4j.zeros(n, t - 1, t - 1), QkNorm.EXACT, false));
      assertTrue(e.getMessage().contains("[n_heads=4, 8, 8]"), e.getMessage());
    }
  }
}
