package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.forward.Activations;
import dev.saelab.forward.ForwardPass;
import dev.saelab.forward.Hook;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * QK and OV attribution on a prompt (math.md §16) against the independent float64 numpy reference
 * ({@code datasets/reference/attribution.py} → {@code attribution.json}; values within 2e-5·(1 +
 * |v|)), against the Java forward pass (every head and every attended (t, u): the terms sum to the
 * model's score within 1e-4 relative; OV parts sum to the head's write), the planted tiny-gemma2
 * pair, and one-line errors.
 */
class AttributionTest {
  static final double TOL = 2e-5;
  static final int[] LONG = {2, 17, 5, 33, 9, 41, 12, 60, 7, 3, 28, 50};
  static JsonNode ref;

  @BeforeAll
  static void load() throws IOException {
    Path file = TestFiles.datasets().resolve("reference/attribution.json");
    Assumptions.assumeTrue(Files.exists(file), "datasets/reference/attribution.json absent");
    ref = new ObjectMapper().readTree(file.toFile());
  }

  static Path data(String rel) {
    return TestFiles.datasets().resolve(rel);
  }

  static void close(double expected, double actual, String what) {
    assertTrue(
        Math.abs(expected - actual) <= TOL * (1 + Math.abs(expected)),
        () -> what + ": expected " + expected + ", got " + actual);
  }

  static INDArray rows(JsonNode rows) {
    double[][] x = new double[rows.size()][];
    for (int t = 0; t < x.length; t++) {
      x[t] = new double[rows.get(t).size()];
      for (int m = 0; m < x[t].length; m++) {
        x[t][m] = rows.get(t).get(m).asDouble();
      }
    }
    return Nd4j.create(x).castTo(DataType.FLOAT);
  }

  /** The reference forward pass's resid_pre of the case's layer, as float32 rows. */
  static INDArray residPre(String key, int layer) throws IOException {
    JsonNode fwd = new ObjectMapper().readTree(data("reference/forward.json").toFile()).get(key);
    return rows(fwd.get("layers").get(layer).get("resid_pre"));
  }

  // ---- against the numpy reference

  @ParameterizedTest
  @ValueSource(strings = {"gemma2", "gpt2", "gemma3", "qwen3", "planted"})
  void matchesTheNumpyReference(String key) throws IOException {
    JsonNode c = ref.get(key);
    int layer = c.get("layer").asInt();
    INDArray x = key.equals("planted") ? rows(c.get("rows")) : residPre(key, layer);
    try (ModelWeights m = ModelWeights.open(data(c.get("folder").asText()));
        SaeDictionary in = SaeDictionary.open(data(c.get("sae_in").asText()));
        SaeDictionary out = SaeDictionary.open(data(c.get("sae_out").asText()))) {
      LayerAttribution la = LayerAttribution.of(m.attention(layer), in, x);
      int positions = c.get("T").asInt();
      assertEquals(positions, la.positions());
      for (int t = 0; t < positions; t++) {
        close(c.get("rho").get(t).asDouble(), la.rho(t), "rho " + t);
        close(c.get("rho_prime").get(t).asDouble(), la.rhoPrime(t), "rho' " + t);
        JsonNode acts = c.get("activations").get(t);
        int[] f = la.activations().features(t);
        float[] a = la.activations().values(t);
        assertEquals(acts.size(), f.length, key + " active features at " + t);
        for (int i = 0; i < f.length; i++) {
          assertEquals(acts.get(i).get(0).asInt(), f[i]);
          close(acts.get(i).get(1).asDouble(), a[i], key + " activation " + t + "/" + f[i]);
        }
      }
      int checked = 0;
      double worstRel = 0;
      for (JsonNode q : c.get("qk")) {
        QkAttribution qk = la.qk(q.get("head").asInt(), q.get("t").asInt(), q.get("u").asInt());
        String where = key + " " + qk.headName() + " " + qk.queryPos() + "->" + qk.keyPos();
        close(q.get("score").asDouble(), qk.modelScore(), where + " score");
        close(q.get("capped").asDouble(), qk.cappedScore(), where + " capped");
        close(q.get("total").asDouble(), qk.total(), where + " total");
        assertTrue(
            Math.abs(qk.total() - qk.modelScore()) <= 1e-9 * (1 + Math.abs(qk.modelScore())));
        // sum to the float64 reference model's score on the same rows: 1e-4 relative, every case
        double refScore = q.get("score").asDouble();
        worstRel = Math.max(worstRel, Math.abs(qk.total() - refScore) / Math.abs(refScore));
        assertTrue(Math.abs(qk.total() - refScore) <= 1e-4 * Math.abs(refScore), where);
        for (AttributionPart a : AttributionPart.values()) {
          for (AttributionPart b : AttributionPart.values()) {
            close(
                q.get("cells").get(a.id() + "x" + b.id()).asDouble(),
                qk.term(a, b),
                where + " " + a.id() + "×" + b.id());
          }
        }
        assertEquals(q.get("n_pairs").asInt(), qk.pairCount(), where);
        List<QkAttribution.Pair> top = qk.pairs(q.get("pairs").size());
        for (int r = 0; r < top.size(); r++) {
          JsonNode p = q.get("pairs").get(r);
          QkAttribution.Pair mine = qk.pair(p.get("q").asInt(), p.get("k").asInt());
          assertNotNull(mine, where + " pair " + p);
          close(p.get("term").asDouble(), mine.term(), where + " term " + p);
          close(p.get("table").asDouble(), mine.tableValue(), where + " table " + p);
          close(p.get("factor").asDouble(), mine.factor(), where + " factor " + p);
          // the same ranking unless two terms are within the tolerance of each other
          QkAttribution.Pair ranked = top.get(r);
          assertTrue(
              ranked.queryFeature() == mine.queryFeature()
                      && ranked.keyFeature() == mine.keyFeature()
                  || Math.abs(Math.abs(ranked.term()) - Math.abs(mine.term())) <= 2 * TOL,
              where + " rank " + r + ": " + ranked + " vs " + p);
        }
        close(q.get("share_top").asDouble(), qk.share(q.get("pairs").size()), where + " share");
        checked++;
      }
      assertTrue(checked >= 5, key + ": only " + checked + " QK cases");
      System.out.printf(
          Locale.ROOT,
          "%s: %d QK cases, worst |total − reference score|/|score| %.2e%n",
          key,
          checked,
          worstRel);
      for (JsonNode o : c.get("ov")) {
        int h = o.get("head").asInt();
        int t = o.get("t").asInt();
        OvAttribution ov = la.ov(h, t, out, range((int) out.config().dSae()));
        compareOv(key + " OV", o, ov);
      }
      if (c.has("ov_residual")) {
        for (JsonNode o : c.get("ov_residual")) {
          OvAttribution ov = la.ov(o.get("head").asInt(), o.get("t").asInt());
          assertTrue(ov.residual());
          compareOv(key + " OV into the residual", o, ov);
        }
      }
    }
  }

  static int[] range(int n) {
    int[] r = new int[n];
    for (int i = 0; i < n; i++) {
      r[i] = i;
    }
    return r;
  }

  static void compareOv(String what, JsonNode o, OvAttribution ov) {
    String where = what + " " + ov.headName() + " at " + ov.destPos();
    close(o.get("rho_prime").asDouble(), ov.rhoPrime(), where + " rho'");
    List<OvAttribution.Pair> top = ov.pairs(o.get("pairs").size());
    assertEquals(o.get("pairs").size(), top.size());
    for (int r = 0; r < top.size(); r++) {
      JsonNode p = o.get("pairs").get(r);
      OvAttribution.Pair mine = top.get(r);
      if (mine.sourcePos() != p.get("u").asInt()
          || mine.valueFeature() != p.get("i").asInt()
          || mine.outputFeature() != p.get("j").asInt()) {
        // only a near-tie may swap ranks
        assertTrue(
            Math.abs(Math.abs(mine.term()) - Math.abs(p.get("term").asDouble())) <= 2 * TOL,
            where + " rank " + r + ": " + mine + " vs " + p);
        continue;
      }
      close(p.get("term").asDouble(), mine.term(), where + " term " + p);
      close(p.get("table").asDouble(), mine.tableValue(), where + " table " + p);
      close(p.get("factor").asDouble(), mine.factor(), where + " factor " + p);
    }
    for (JsonNode out : o.get("outputs")) {
      int j = out.get("j").asInt();
      for (AttributionPart a : AttributionPart.values()) {
        close(
            out.get("parts").get(a.id()).asDouble(), ov.part(a, j), where + " " + a.id() + " " + j);
      }
      close(out.get("total").asDouble(), ov.total(j), where + " total " + j);
      close(out.get("model").asDouble(), ov.modelContribution(j), where + " model " + j);
    }
  }

  // ---- against the Java forward pass: every head, every attended (t, u)

  record Case(String folder, int layer, String saeIn, String saeOut) {}

  static Case caseOf(String key) {
    JsonNode c = ref.get(key);
    return new Case(
        c.get("folder").asText(),
        c.get("layer").asInt(),
        c.get("sae_in").asText(),
        c.get("sae_out").asText());
  }

  @ParameterizedTest
  @ValueSource(strings = {"gemma2", "gpt2", "gemma3", "qwen3"})
  void termsSumToTheForwardPassScores(String key) {
    Case k = caseOf(key);
    int l = k.layer();
    try (ModelWeights m = ModelWeights.open(data(k.folder()));
        SaeDictionary in = SaeDictionary.open(data(k.saeIn()));
        SaeDictionary out = SaeDictionary.open(data(k.saeOut()));
        Activations fw =
            ForwardPass.run(
                m,
                LONG,
                List.of(
                    Hook.of(l, Hook.Point.RESID_PRE).name(),
                    Hook.of(l, Hook.Point.ROT_Q).name(),
                    Hook.of(l, Hook.Point.ROT_K).name(),
                    Hook.of(l, Hook.Point.ATTN_SCORES).name(),
                    Hook.of(l, Hook.Point.Z).name(),
                    Hook.of(l, Hook.Point.ATTN_OUT).name()))) {
      ModelConfig c = m.config();
      AttentionWeights attn = m.attention(l);
      LayerAttribution la = LayerAttribution.of(attn, in, fw.get(Hook.of(l, Hook.Point.RESID_PRE)));
      float[][][] rq = heads(fw.get(Hook.of(l, Hook.Point.ROT_Q)));
      float[][][] rk = heads(fw.get(Hook.of(l, Hook.Point.ROT_K)));
      INDArray recorded = fw.get(Hook.of(l, Hook.Point.ATTN_SCORES));
      int n = LONG.length;
      double worst = 0;
      int cases = 0;
      int floored = 0;
      for (int h = 0; h < c.nHeads(); h++) {
        for (int t = 0; t < n; t++) {
          for (int u = 0; u <= t; u++) {
            if (!la.attends(t, u)) {
              continue;
            }
            QkAttribution qk = la.qk(h, t, u);
            double s = 0;
            for (int e = 0; e < c.dHead(); e++) {
              s += (double) rq[t][h][e] * rk[u][c.kvHead(h)][e];
            }
            s *= c.queryScale();
            // the Java forward pass is float32: near-zero scores carry its rounding (~1e-6)
            double rel = Math.abs(qk.total() - s) / Math.abs(s);
            if (rel > 1e-4) {
              floored++;
            }
            worst = Math.max(worst, Math.abs(qk.total() - s) / (Math.abs(s) + 1e-2));
            double diff = Math.abs(qk.total() - s);
            int hh = h;
            int tt = t;
            int uu = u;
            double ss = s;
            assertTrue(
                diff <= 1e-4 * Math.abs(s) + 2e-6,
                () -> key + " L" + l + "H" + hh + " " + tt + "->" + uu + ": " + ss + " vs " + diff);
            double capped = recorded.getDouble(h, t, u);
            assertTrue(
                Math.abs(qk.cappedScore() - capped) <= 1e-4 * Math.abs(capped) + 1e-6,
                () -> key + " capped score " + capped + " vs " + qk.cappedScore());
            cases++;
          }
        }
      }
      assertTrue(cases >= c.nHeads() * n * (n + 1) / 2 - 1);
      System.out.printf(
          Locale.ROOT,
          "%s L%d: %d (head, t, u) QK attributions; |total − float32 forward score| ≤ %.2e·(|score|"
              + " + 0.01); %d scores near 0 beyond 1e-4 relative (float32 rounding of the"
              + " forward)%n",
          key,
          l,
          cases,
          worst,
          floored);
      // OV: parts add up to each head's own write (z·W_O^h, post-norm frozen), into the residual
      // and into the output SAE's features
      float[][][] z = heads(fw.get(Hook.of(l, Hook.Point.Z)));
      INDArray attnOut = fw.get(Hook.of(l, Hook.Point.ATTN_OUT));
      double worstOv = 0;
      for (int t = 0; t < n; t++) {
        double[] sum = new double[c.dModel()];
        double rhoPrime = forwardRhoPrime(attn, z[t]);
        for (int h = 0; h < c.nHeads(); h++) {
          OvAttribution ov = la.ov(h, t);
          double[] write = headWrite(attn, z[t][h], h);
          // the forward's z is float32: its rounding scales with the whole write vector, so each
          // coordinate is compared relative to the vector's largest
          double scale = 0;
          for (int j = 0; j < c.dModel(); j++) {
            double g = attn.postAttnNorm() == null ? 1 : attn.postAttnNorm().gain().getDouble(j);
            scale = Math.max(scale, Math.abs(write[j] * g / rhoPrime));
          }
          for (int j = 0; j < c.dModel(); j++) {
            double g = attn.postAttnNorm() == null ? 1 : attn.postAttnNorm().gain().getDouble(j);
            double expect = write[j] * g / rhoPrime;
            assertTrue(
                Math.abs(ov.total(j) - ov.modelContribution(j)) <= 1e-9 * (1 + Math.abs(expect)));
            worstOv = Math.max(worstOv, Math.abs(ov.total(j) - expect) / (1e-3 + scale));
            sum[j] += ov.total(j);
          }
          OvAttribution ovs = la.ov(h, t, out);
          for (int j : ovs.outputs()) {
            assertTrue(
                Math.abs(ovs.total(j) - ovs.modelContribution(j))
                    <= 1e-9 * (1 + Math.abs(ovs.modelContribution(j))));
          }
        }
        for (int j = 0; j < c.dModel(); j++) {
          double g = attn.postAttnNorm() == null ? 1 : attn.postAttnNorm().gain().getDouble(j);
          double bo = attn.bO() == null ? 0 : attn.bO().getDouble(j) * g / rhoPrime;
          double rec = attnOut.getDouble(t, j);
          assertEquals(
              rec, sum[j] + bo, 1e-4 * (1 + Math.abs(rec)), key + " attn_out " + t + "," + j);
        }
      }
      assertTrue(worstOv <= 1e-4, key + " OV write vs forward: " + worstOv);
    }
  }

  static float[][][] heads(INDArray a) {
    int t = (int) a.size(0);
    int h = (int) a.size(1);
    int d = (int) a.size(2);
    float[] v = a.dup('c').data().asFloat();
    float[][][] out = new float[t][h][d];
    for (int i = 0; i < t; i++) {
      for (int j = 0; j < h; j++) {
        System.arraycopy(v, (i * h + j) * d, out[i][j], 0, d);
      }
    }
    return out;
  }

  static double[] headWrite(AttentionWeights attn, float[] z, int h) {
    int d = attn.config().dModel();
    int dh = attn.config().dHead();
    double[] w = new double[d];
    for (int e = 0; e < dh; e++) {
      for (int m = 0; m < d; m++) {
        w[m] += z[e] * attn.wO().getDouble(h * dh + e, m);
      }
    }
    return w;
  }

  static double forwardRhoPrime(AttentionWeights attn, float[][] z) {
    if (attn.postAttnNorm() == null) {
      return 1;
    }
    int d = attn.config().dModel();
    double[] o = new double[d];
    for (int h = 0; h < z.length; h++) {
      double[] w = headWrite(attn, z[h], h);
      for (int m = 0; m < d; m++) {
        o[m] += w[m];
      }
    }
    double ss = 0;
    for (int m = 0; m < d; m++) {
      o[m] += attn.bO() == null ? 0 : attn.bO().getDouble(m);
      ss += o[m] * o[m];
    }
    return Math.sqrt(ss / d + attn.config().normEps());
  }

  // ---- the planted pair

  @Test
  void plantedPairDominatesWhereThePromptActivatesIt() {
    Case k = caseOf("gemma2");
    JsonNode planted = ref.get("planted").get("planted");
    int t = planted.get("t").asInt();
    int u = planted.get("u").asInt();
    int qf = planted.get("query").asInt();
    int kf = planted.get("key").asInt();
    int h = planted.get("head").asInt();
    assertEquals(17, qf);
    assertEquals(42, kf);
    int[] ids = {2, 17, 5, 33, 9, 41, 12, 60};
    try (ModelWeights m = ModelWeights.open(data(k.folder()));
        SaeDictionary in = SaeDictionary.open(data(k.saeIn()));
        Activations fw = ForwardPass.run(m, ids, List.of("blocks.1.hook_resid_pre"))) {
      // the prompt's own rows, pushed along the planted features' decoder directions
      INDArray x = fw.get("blocks.1.hook_resid_pre").dup('c');
      float add = (float) planted.get("added").asDouble();
      x.getRow(t).addi(in.wDec().getRow(qf).mul(add));
      x.getRow(u).addi(in.wDec().getRow(kf).mul(add));
      LayerAttribution la = LayerAttribution.of(m.attention(1), in, x);
      QkAttribution qk = la.qk(h, t, u);
      List<QkAttribution.Pair> top = qk.pairs(2);
      assertEquals(qf, top.get(0).queryFeature(), qk.toString());
      assertEquals(kf, top.get(0).keyFeature(), qk.toString());
      assertTrue(top.get(0).term() > 5 * Math.abs(top.get(1).term()), qk.toString());
      assertTrue(top.get(0).term() > 0);
      // and the head attends from t to u more than to any other key
      for (int v = 0; v <= t; v++) {
        assertTrue(v == u || la.pattern(h, t, v) < la.pattern(h, t, u), "pattern " + v);
      }
      // without the push the pair does not lead
      LayerAttribution plain =
          LayerAttribution.of(m.attention(1), in, fw.get("blocks.1.hook_resid_pre"));
      QkAttribution.Pair first = plain.qk(h, t, u).pairs(1).get(0);
      assertTrue(first.queryFeature() != qf || first.keyFeature() != kf);
      System.out.println(qk);
    }
  }

  @Test
  void tableValueIsTheFactorTimesThePositionalTable() {
    // the term relates to the weight table at distance Δ: term = factor·QK^Δ[i,j]; compare with
    // the positional view computed from the weights alone (Rope.rotate of the folded query)
    Case k = caseOf("gemma2");
    try (ModelWeights m = ModelWeights.open(data(k.folder()));
        SaeDictionary in = SaeDictionary.open(data(k.saeIn()))) {
      AttentionWeights attn = m.attention(1);
      LayerAttribution la = LayerAttribution.of(attn, in, rows(ref.get("planted").get("rows")));
      QkAttribution qk = la.qk(1, 5, 2);
      QkAttribution.Pair p = qk.pair(17, 42);
      Rope rope = Rope.of(m.config(), 1, Rope.Pairing.ROTATE_HALF);
      int dh = m.config().dHead();
      double[] q = new double[dh];
      double[] kk = new double[dh];
      for (int e = 0; e < dh; e++) {
        for (int mm = 0; mm < m.config().dModel(); mm++) {
          double g = attn.inputNorm().gain().getDouble(mm);
          q[e] += in.wDec().getDouble(17, mm) * g * attn.wQ().getDouble(mm, dh + e);
          kk[e] += in.wDec().getDouble(42, mm) * g * attn.wK().getDouble(mm, e);
        }
      }
      double table = LayerAttribution.dot(rope.rotate(q, 3), kk);
      assertEquals(table, p.tableValue(), 1e-9 * (1 + Math.abs(table)));
      assertEquals(p.term(), p.factor() * p.tableValue(), 1e-12 * (1 + Math.abs(p.term())));
      double factor =
          m.config().queryScale()
              * p.queryActivation()
              * p.keyActivation()
              / (la.rho(5) * la.rho(2));
      assertEquals(factor, p.factor(), 1e-12 * factor);
    }
  }

  // ---- errors

  @Test
  void refusesAnSaeForADifferentStreamOrWidth() throws IOException {
    try (ModelWeights g2 = ModelWeights.open(data("tiny-gemma2"));
        SaeDictionary l1 =
            SaeDictionary.open(data("tiny-gemma-scope/layer_1/width_96/average_l0_9"));
        SaeDictionary l0 =
            SaeDictionary.open(data("tiny-gemma-scope/layer_0/width_128/average_l0_12"));
        SaeDictionary gpt = SaeDictionary.open(data("tiny-saelens/blocks.1.hook_resid_pre"))) {
      INDArray x = residPre("gemma2", 1);
      AttentionWeights a1 = g2.attention(1);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> LayerAttribution.of(a1, l1, x));
      assertTrue(e.getMessage().contains("an SAE for a different stream or width"), e.getMessage());
      assertTrue(e.getMessage().contains("blocks.1.hook_resid_post"), e.getMessage());
      assertTrue(e.getMessage().contains("blocks.1.hook_resid_pre = blocks.0.hook_resid_post"));
      assertTrue(!e.getMessage().contains("\n"));
      e = assertThrows(IllegalArgumentException.class, () -> LayerAttribution.of(a1, gpt, x));
      assertTrue(e.getMessage().contains("an SAE for a different stream or width"), e.getMessage());
      assertTrue(e.getMessage().contains("width 32") && e.getMessage().contains("d_model=48"));
      LayerAttribution la = LayerAttribution.of(a1, l0, x);
      e = assertThrows(IllegalArgumentException.class, () -> la.ov(0, 3, l0));
      assertTrue(e.getMessage().contains("layer 1's output"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> la.qk(0, 2, 3));
      assertTrue(e.getMessage().contains("causal"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> la.qk(4, 3, 2));
      assertTrue(e.getMessage().contains("head 4 out of range 0..3"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> la.ov(0, 3, l1, 96));
      assertTrue(e.getMessage().contains("output feature 96 out of range"), e.getMessage());
      OvAttribution ov = la.ov(0, 3, l1, 5, 63);
      e = assertThrows(IllegalArgumentException.class, () -> ov.total(7));
      assertTrue(e.getMessage().contains("not among the 2 outputs"), e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () -> LayerAttribution.of(a1, l0, Nd4j.zeros(DataType.FLOAT, 4, 32)));
      assertTrue(e.getMessage().contains("expected [positions, d_model=48]"), e.getMessage());
    }
  }

  @Test
  void slidingWindowMasksFarKeys() {
    // tiny-gemma3 layer 0 is sliding with window 8: on 12 tokens, query 10 does not see key 2
    try (ModelWeights m = ModelWeights.open(data("tiny-gemma3"));
        SaeDictionary in =
            SaeDictionary.open(
                data("tiny-gemma-scope-2/resid_post_all/layer_1_width_32_l0_small"));
        Activations fw =
            ForwardPass.run(
                m, LONG, List.of("blocks.2.hook_resid_pre", "blocks.2.attn.hook_attn_scores"))) {
      LayerAttribution la =
          LayerAttribution.of(m.attention(2), in, fw.get("blocks.2.hook_resid_pre"));
      assertTrue(la.attends(10, 3));
      assertTrue(!la.attends(10, 2));
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> la.qk(0, 10, 2));
      assertTrue(e.getMessage().contains("sliding window of 8"), e.getMessage());
      QkAttribution qk = la.qk(0, 10, 3);
      double rec = fw.get("blocks.2.attn.hook_attn_scores").getDouble(0, 10, 3);
      assertEquals(rec, qk.total(), 1e-4 * Math.abs(rec));
      assertEquals(0, la.pattern(0, 10, 2));
    }
  }
}
