package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.Progress;
import dev.saelab.linalg.RankBy;
import dev.saelab.model.AttentionWeights;
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
 * Issue 5's analyses on the shipped datasets against the committed numpy reference
 * (datasets/reference/analyses.py → analyses.json), plus hand-computed cases and planted structure.
 */
class AnalysesTest {
  static ModelWeights gemma;
  static ModelWeights gpt2;
  static SaeDictionary in;
  static SaeDictionary out;
  static JsonNode ref;
  static JsonNode gpt2Ref;

  @BeforeAll
  static void open() throws IOException {
    Path d = TestFiles.datasets();
    gemma = ModelWeights.open(d.resolve("tiny-gemma2"));
    gpt2 = ModelWeights.open(d.resolve("tiny-gpt2"));
    in = SaeDictionary.open(d.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12"));
    out = SaeDictionary.open(d.resolve("tiny-gemma-scope/layer_1/width_96/average_l0_9"));
    JsonNode all = new ObjectMapper().readTree(d.resolve("reference/analyses.json").toFile());
    ref = all.get("gemma2_layer1");
    gpt2Ref = all.get("gpt2_layer1");
  }

  @AfterAll
  static void close() {
    gemma.close();
    gpt2.close();
    in.close();
    out.close();
  }

  static void near(double expected, double got, String what) {
    assertEquals(expected, got, 2e-5 * (1 + Math.abs(expected)), what);
  }

  // ------------------------------------------------------------------ RoPE

  @Test
  void ropeRotatesPairsByHand() {
    // d_head 4, θ = 100: pair 0 turns by Δ, pair 1 by Δ/10.
    Rope half = new Rope(4, 100, Rope.Pairing.ROTATE_HALF);
    double[] x = {1, 0, 0, 0};
    double[] y = half.rotate(x, Math.PI / 2);
    assertArrayEquals(new double[] {0, 0, 1, 0}, y, 1e-12, "rotate-half pairs 0 with 2");
    Rope inter = new Rope(4, 100, Rope.Pairing.INTERLEAVED);
    assertArrayEquals(
        new double[] {0, 1, 0, 0},
        inter.rotate(x, Math.PI / 2),
        1e-12,
        "interleaved pairs 0 with 1");
    assertArrayEquals(
        new double[] {0, 0, Math.cos(0.1), Math.sin(0.1)},
        inter.rotate(new double[] {0, 0, 1, 0}, 1),
        1e-12,
        "pair 1 turns by Δ·θ^(-1/2)");
    // orthogonal, and R(a)R(b) = R(a+b): the score depends on Δ only
    double[] v = {0.3, -1.2, 2.0, 0.7};
    double[] w = {1.1, 0.4, -0.5, 0.9};
    double norm = Math.sqrt(0.09 + 1.44 + 4 + 0.49);
    double[] rv = half.rotate(v, 7);
    assertEquals(
        norm, Math.sqrt(rv[0] * rv[0] + rv[1] * rv[1] + rv[2] * rv[2] + rv[3] * rv[3]), 1e-12);
    assertEquals(dot(half.rotate(v, 9), half.rotate(w, 4)), dot(half.rotate(v, 5), w), 1e-12);
  }

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  @Test
  void qkTablesAtDistanceOneMatchNumpyForBothPairings() {
    try (FeatureCircuits fc = FeatureCircuits.of(gemma.attention(1), in, in, out).tiles(16, 32)) {
      for (Rope.Pairing p : Rope.Pairing.values()) {
        List<CircuitTable> t =
            fc.compute(
                CircuitSpec.defaults()
                    .withTopK(12)
                    .withKinds(EnumSet.of(CircuitKind.QK))
                    .withPosition(1, p),
                Progress.NONE);
        for (int h = 0; h < 4; h++) {
          FeatureCircuitsTest.assertMatches(
              ref.get("rope_tables").get(p.id()).get(h),
              t.get(h),
              "QK at Δ=1 " + p.id() + " L1H" + h);
        }
      }
    }
  }

  @Test
  void ropeNeedsARopeModel() {
    try (SaeDictionary s =
            SaeDictionary.open(
                TestFiles.datasets().resolve("tiny-saelens/blocks.1.hook_resid_pre"));
        FeatureCircuits fc = FeatureCircuits.of(gpt2.attention(1), s, s, null)) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  fc.compute(
                      CircuitSpec.defaults()
                          .withKinds(EnumSet.of(CircuitKind.QK))
                          .withPosition(3, null),
                      Progress.NONE));
      assertTrue(e.getMessage().contains("no rotary position embeddings"), e.getMessage());
    }
  }

  @Test
  void positionalProfilesMatchNumpyAndThePrevTokenHeadPeaksAtOne() {
    AttentionWeights attn = gemma.attention(1);
    int[] deltas = PositionalProfile.logDeltas(gemma.config().maxPositions(), 50);
    JsonNode rd = ref.get("profile_deltas");
    assertEquals(rd.size(), deltas.length);
    for (int i = 0; i < deltas.length; i++) {
      assertEquals(rd.get(i).asInt(), deltas[i], "Δ #" + i);
    }
    float[] b = in.bDec().toFloatVector();
    String[][] cases = {
      {"profile_bdec", "rotate-half"}, {"profile_bdec_interleaved", "interleaved"}
    };
    for (String[] c : cases) {
      List<PositionalProfile.Point> pts =
          PositionalProfile.of(
              attn,
              Rope.of(gemma.config(), Rope.Pairing.parse(c[1])),
              b,
              b,
              HeadSet.all(),
              deltas,
              1.0,
              -1,
              -1);
      assertEquals(4 * deltas.length, pts.size());
      for (PositionalProfile.Point p : pts) {
        near(
            ref.get(c[0]).get(p.head()).get(indexOf(deltas, p.delta())).asDouble(),
            p.score(),
            c[0] + " " + p.headName() + " Δ=" + p.delta());
        assertFalse(p.masked(), "layer 1 is global");
      }
    }
    float[] d17 = in.wDec().getRow(17).toFloatVector();
    float[] d42 = in.wDec().getRow(42).toFloatVector();
    for (PositionalProfile.Point p :
        PositionalProfile.of(
            attn,
            Rope.of(gemma.config(), Rope.Pairing.ROTATE_HALF),
            d17,
            d42,
            HeadSet.all(),
            deltas,
            1.0,
            17,
            42)) {
      near(
          ref.get("profile_pair_17_42").get(p.head()).get(indexOf(deltas, p.delta())).asDouble(),
          p.score(),
          "pair 17:42 " + p.headName() + " Δ=" + p.delta());
    }
    // planted previous-token head: its b_dec profile peaks at Δ = 1
    List<PositionalProfile.Point> h3 =
        PositionalProfile.of(
            attn,
            Rope.of(gemma.config(), Rope.Pairing.ROTATE_HALF),
            b,
            b,
            HeadSet.of(3),
            java.util.stream.IntStream.range(0, 64).toArray(),
            1.0,
            -1,
            -1);
    PositionalProfile.Point best =
        h3.stream()
            .max(java.util.Comparator.comparingDouble(PositionalProfile.Point::score))
            .orElseThrow();
    assertEquals(1, best.delta());
  }

  @Test
  void slidingLayersMarkDistancesBeyondTheWindow() {
    AttentionWeights attn0 = gemma.attention(0);
    assertTrue(gemma.config().isSliding(0), "the tiny Gemma's layer 0 slides");
    int w = gemma.config().slidingWindow();
    float[] b = in.bDec().toFloatVector();
    List<PositionalProfile.Point> pts =
        PositionalProfile.of(
            attn0,
            Rope.of(gemma.config(), Rope.Pairing.ROTATE_HALF),
            b,
            b,
            HeadSet.of(0),
            new int[] {w - 1, w, w + 5},
            1.0,
            -1,
            -1);
    assertFalse(pts.get(0).masked());
    assertTrue(pts.get(1).masked());
    assertTrue(pts.get(2).masked());
  }

  static int indexOf(int[] a, int v) {
    for (int i = 0; i < a.length; i++) {
      if (a[i] == v) {
        return i;
      }
    }
    throw new AssertionError(v);
  }

  // ------------------------------------------------------------------ head SVD

  @Test
  void headSvdMatchesNumpyAndReconstructsTheCircuit() {
    AttentionWeights attn = gemma.attention(1);
    for (int h = 0; h < 4; h++) {
      for (CircuitKind kind : CircuitKind.values()) {
        HeadSvd s =
            kind == CircuitKind.QK ? HeadSvd.qk(attn, h, false) : HeadSvd.ov(attn, h, false);
        JsonNode sig = ref.get(kind == CircuitKind.QK ? "svd_qk" : "svd_ov").get(h).get("sigma");
        double[] got = s.sigma();
        assertEquals(sig.size(), got.length);
        for (int k = 0; k < got.length; k++) {
          near(sig.get(k).asDouble(), got[k], kind + " L1H" + h + " σ" + k);
        }
        // orthonormal columns
        for (int a = 0; a < got.length; a++) {
          for (int b = a; b < got.length; b++) {
            assertEquals(a == b ? 1 : 0, dot(s.u(a), s.u(b)), 1e-9, "UᵀU");
            assertEquals(a == b ? 1 : 0, dot(s.v(a), s.v(b)), 1e-9, "VᵀV");
          }
        }
      }
    }
    // U Σ Vᵀ against the dense product of the folded factors, by a plain double loop
    HeadSvd s = HeadSvd.qk(attn, 1, false);
    double[][] w = s.dense();
    double[][] wq = attn.wQ().toDoubleMatrix();
    double[][] wk = attn.wK().toDoubleMatrix();
    double[] g = attn.inputNorm().gain().toDoubleVector();
    int dh = 16;
    double maxErr = 0;
    for (int i = 0; i < w.length; i++) {
      for (int j = 0; j < w.length; j++) {
        double e = 0;
        for (int c = 0; c < dh; c++) {
          e += g[i] * wq[i][dh + c] * g[j] * wk[j][c];
        }
        maxErr = Math.max(maxErr, Math.abs(e - w[i][j]));
      }
    }
    assertTrue(maxErr < 1e-9, "reconstruction error " + maxErr);
  }

  @Test
  void loadingsAndSplitsMatchNumpy() {
    AttentionWeights attn = gemma.attention(1);
    HeadSvd qk = HeadSvd.qk(attn, 1, false);
    JsonNode r = ref.get("svd_qk").get(1);
    checkLoadings(
        r.get("loadings_query_k0"), qk.loadings(in.wDec(), HeadSvd.Side.QUERY, 2)[0], "query k0");
    checkLoadings(
        r.get("loadings_key_k1"), qk.loadings(in.wDec(), HeadSvd.Side.KEY, 2)[1], "key k1");
    HeadSvd.Split sp =
        qk.split(in.wDec().getRow(17).toDoubleVector(), in.wDec().getRow(42).toDoubleVector());
    checkSplit(r.get("split_17_42"), sp, "QK 17→42");
    // the split sums to the table entry
    try (FeatureCircuits fc = FeatureCircuits.of(attn, in, in, out)) {
      near(
          fc.block(CircuitKind.QK, 1, new int[] {17}, new int[] {42})[0][0],
          sp.total(),
          "split total = QK entry");
      HeadSvd ov = HeadSvd.ov(attn, 2, false);
      JsonNode o = ref.get("svd_ov").get(2);
      checkLoadings(
          o.get("loadings_value_k0"), ov.loadings(in.wDec(), HeadSvd.Side.VALUE, 1)[0], "value k0");
      checkLoadings(
          o.get("loadings_output_k0"),
          ov.loadings(out.wEnc().transpose(), HeadSvd.Side.OUTPUT, 1)[0],
          "output k0");
      HeadSvd.Split so =
          ov.split(in.wDec().getRow(5).toDoubleVector(), out.wEnc().getColumn(63).toDoubleVector());
      checkSplit(o.get("split_5_63"), so, "OV 5→63");
      near(
          fc.block(CircuitKind.OV, 2, new int[] {5}, new int[] {63})[0][0],
          so.total(),
          "split total = OV entry");
    }
    assertThrows(
        IllegalArgumentException.class, () -> qk.loadings(in.wDec(), HeadSvd.Side.VALUE, 1));
  }

  static void checkLoadings(JsonNode expected, float[] got, String what) {
    Integer[] idx = new Integer[got.length];
    for (int i = 0; i < idx.length; i++) {
      idx[i] = i;
    }
    java.util.Arrays.sort(idx, (a, b) -> Float.compare(Math.abs(got[b]), Math.abs(got[a])));
    for (int i = 0; i < expected.size(); i++) {
      assertEquals(expected.get(i).get(0).asInt(), idx[i], what + " #" + i);
      near(expected.get(i).get(1).asDouble(), got[idx[i]], what + " #" + i);
    }
  }

  static void checkSplit(JsonNode expected, HeadSvd.Split got, String what) {
    near(expected.get("total").asDouble(), got.total(), what + " total");
    assertEquals(
        expected.get("directions_90").asInt(),
        got.directionsFor(0.9),
        what + " directions for 90%");
    for (int i = 0; i < expected.get("terms").size(); i++) {
      JsonNode t = expected.get("terms").get(i);
      assertEquals(t.get(0).asInt(), got.terms().get(i).k(), what + " term " + i);
      near(t.get(1).asDouble(), got.terms().get(i).value(), what + " term " + i);
    }
  }

  @Test
  void gpt2SpectraIncludingTheBiasAugmentedFormMatchNumpy() {
    AttentionWeights attn = gpt2.attention(1);
    for (int h = 0; h < 4; h++) {
      String[] keys = {"svd_qk", "svd_qk_augmented", "svd_ov"};
      HeadSvd[] s = {
        HeadSvd.qk(attn, h, false), HeadSvd.qk(attn, h, true), HeadSvd.ov(attn, h, true)
      };
      for (int c = 0; c < 3; c++) {
        double[] got = s[c].sigma();
        for (int k = 0; k < got.length; k++) {
          near(
              gpt2Ref.get(keys[c]).get(h).get(k).asDouble(),
              got[k],
              keys[c] + " L1H" + h + " σ" + k);
        }
      }
      assertEquals(33, s[1].u(0).length, "augmented: d_model + 1");
    }
  }

  // ------------------------------------------------------------------ layer-wide

  @Test
  void summedTablesMatchNumpyAndTheSpreadPairIsWeakInEveryHead() {
    try (FeatureCircuits fc = FeatureCircuits.of(gemma.attention(1), in, in, out).tiles(16, 32)) {
      String[] keys = {"sum_qk", "sum_ov", "sum_qk_cosine"};
      LayerTable[] got = {
        fc.computeSum(CircuitKind.QK, CircuitSpec.defaults().withTopK(5), Progress.NONE),
        fc.computeSum(CircuitKind.OV, CircuitSpec.defaults().withTopK(5), Progress.NONE),
        fc.computeSum(
            CircuitKind.QK, CircuitSpec.defaults().withTopK(5).withCosine(true), Progress.NONE)
      };
      // top 12 values from a second run (thresholds need per-head top 5, values the first 12)
      LayerTable[] wide = {
        fc.computeSum(CircuitKind.QK, CircuitSpec.defaults().withTopK(12), Progress.NONE),
        fc.computeSum(CircuitKind.OV, CircuitSpec.defaults().withTopK(12), Progress.NONE),
        fc.computeSum(
            CircuitKind.QK, CircuitSpec.defaults().withTopK(12).withCosine(true), Progress.NONE)
      };
      for (int c = 0; c < 3; c++) {
        JsonNode r = ref.get(keys[c]);
        for (int i = 0; i < r.size(); i++) {
          JsonNode e = r.get(i);
          LayerTable.Edge g = wide[c].edges().get(i);
          String at = keys[c] + " rank " + (i + 1);
          assertEquals(e.get("row").asInt(), g.row(), at);
          assertEquals(e.get("col").asInt(), g.col(), at);
          near(e.get("value").asDouble(), g.value(), at);
          for (int h = 0; h < 4; h++) {
            near(e.get("per_head").get(h).asDouble(), g.perHead()[h], at + " head " + h);
          }
          assertEquals(
              e.get("spread").asInt(), g.headSpread(LayerTable.SPREAD_SHARE), at + " spread");
          if (i < 5) {
            assertEquals(
                e.get("weak").asBoolean(),
                got[c].weakInEveryHead(got[c].edges().get(i)),
                at + " weak");
          }
        }
      }
      // planted: 88 → 101 spread over heads 0 and 2 tops the sum, is in no head's top 5
      LayerTable.Edge first = got[0].edges().get(0);
      assertEquals(88, first.row());
      assertEquals(101, first.col());
      assertEquals(2, first.headSpread(0.8));
      assertTrue(got[0].distributed().contains(first));
      for (CircuitTable t :
          fc.compute(
              CircuitSpec.defaults().withTopK(5).withKinds(EnumSet.of(CircuitKind.QK)),
              Progress.NONE)) {
        assertTrue(
            t.edges().stream().noneMatch(e -> e.row() == 88 && e.col() == 101), t.headName());
      }
    }
  }

  // ------------------------------------------------------------------ cosine, drill-down, scatter

  @Test
  void cosineTablesMatchNumpy() {
    try (FeatureCircuits fc = FeatureCircuits.of(gemma.attention(1), in, in, out).tiles(16, 32)) {
      List<CircuitTable> t =
          fc.compute(CircuitSpec.defaults().withTopK(12).withCosine(true), Progress.NONE);
      for (int h = 0; h < 4; h++) {
        FeatureCircuitsTest.assertMatches(
            ref.get("cosine_qk").get(h), t.get(h), "cosine QK L1H" + h);
        FeatureCircuitsTest.assertMatches(
            ref.get("cosine_ov").get(h), t.get(4 + h), "cosine OV L1H" + h);
        assertTrue(Math.abs(t.get(h).edges().get(0).value()) <= 1 + 1e-6);
      }
    }
  }

  @Test
  void drillDownPartnersAndNormsMatchNumpy() {
    try (FeatureCircuits fc = FeatureCircuits.of(gemma.attention(1), in, in, out)) {
      Object[][] cases = {
        {"query_17_h1", 17, FeatureRole.QUERY, 1},
        {"key_42_h1", 42, FeatureRole.KEY, 1},
        {"value_5_h2", 5, FeatureRole.VALUE, 2},
        {"output_63_h2", 63, FeatureRole.OUTPUT, 2}
      };
      for (Object[] c : cases) {
        FeatureRole role = (FeatureRole) c[2];
        List<FeatureEdge> got = fc.partners((int) c[1], role, (int) c[3], 5, RankBy.ABS, false);
        JsonNode r = ref.get("partners").get((String) c[0]);
        boolean rowSide = role == FeatureRole.QUERY || role == FeatureRole.VALUE;
        for (int i = 0; i < 5; i++) {
          FeatureEdge e = got.get(i);
          assertEquals(r.get(i).get(0).asInt(), rowSide ? e.col() : e.row(), c[0] + " #" + i);
          assertEquals((int) c[1], rowSide ? e.row() : e.col());
          near(r.get(i).get(1).asDouble(), e.value(), c[0] + " #" + i);
        }
      }
      // the planted pairs are each other's first partners
      assertEquals(42, fc.partners(17, FeatureRole.QUERY, 1, 1, RankBy.ABS, false).get(0).col());
      assertEquals(5, fc.partners(63, FeatureRole.OUTPUT, 2, 1, RankBy.ABS, false).get(0).row());
      double[][] n = fc.norms(17);
      for (int row = 0; row < 4; row++) {
        for (int h = 0; h < 4; h++) {
          near(
              ref.get("norms_17").get(row).get(h).asDouble(),
              n[row][h],
              "norm " + row + " head " + h);
        }
      }
      assertThrows(
          IllegalArgumentException.class,
          () -> fc.partners(128, FeatureRole.QUERY, 0, 3, RankBy.ABS, false));
    }
  }

  @Test
  void qkOvScatterMatchesNumpy() {
    try (FeatureCircuits fc = FeatureCircuits.of(gemma.attention(1), in, in, out)) {
      for (int h = 0; h < 4; h++) {
        QkOvScatter s = fc.qkOvScatter(h);
        JsonNode r = ref.get("scatter").get(h);
        near(r.get("pearson").asDouble(), s.pearson(), "pearson L1H" + h);
        for (int i = 0; i < 5; i++) {
          near(r.get("x_0_4").get(i).asDouble(), s.meanQk()[i], "x " + i);
          near(r.get("y_0_4").get(i).asDouble(), s.meanAbsOv()[i], "y " + i);
        }
      }
    }
    assertEquals(1.0, QkOvScatter.pearson(new double[] {1, 2, 3}, new double[] {2, 4, 6}), 1e-12);
    assertEquals(-1.0, QkOvScatter.pearson(new double[] {1, 2, 3}, new double[] {3, 2, 1}), 1e-12);
  }
}
