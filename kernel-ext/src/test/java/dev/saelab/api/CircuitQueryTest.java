package dev.saelab.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitSpec;
import dev.saelab.circuits.CircuitTable;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.HeadSet;
import dev.saelab.circuits.HeadSvd;
import dev.saelab.circuits.PositionalProfile;
import dev.saelab.circuits.Rope;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.Progress;
import dev.saelab.linalg.RankBy;
import dev.saelab.linalg.Screen;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The typed Java API: enums, head sets and feature pairs reach the computation unchanged. */
class CircuitQueryTest {
  static ModelWeights gemma;
  static SaeDictionary in;
  static SaeDictionary out;

  @BeforeAll
  static void open() {
    Path d = TestFiles.datasets();
    gemma = ModelWeights.open(d.resolve("tiny-gemma2"));
    in = SaeDictionary.open(d.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12"));
    out = SaeDictionary.open(d.resolve("tiny-gemma-scope/layer_1/width_96/average_l0_9"));
  }

  @AfterAll
  static void close() {
    gemma.close();
    in.close();
    out.close();
  }

  CircuitQuery query() {
    return SaeLab.circuits(gemma, 1)
        .saeIn(in)
        .saeOut(out)
        .progress(Progress.NONE)
        .warnings(w -> {});
  }

  @Test
  void rankingScreenAndHeadSetReachTheTables() {
    FeatureTable t =
        query().heads(HeadSet.of(2, 1, 2)).top(5).rankBy(RankBy.NEG_VALUE).screen(Screen.FP32).qk();
    List<CircuitTable> want;
    try (FeatureCircuits fc = FeatureCircuits.of(gemma.attention(1), in, in, null)) {
      want =
          fc.compute(
              CircuitSpec.defaults()
                  .withKinds(EnumSet.of(CircuitKind.QK))
                  .withHeads(1, 2)
                  .withTopK(5)
                  .withRankBy(RankBy.NEG_VALUE),
              Progress.NONE);
    }
    List<FeatureEdge> got =
        t.rows().stream()
            .map(r -> new FeatureEdge(r.rowFeature(), r.colFeature(), (float) r.value()))
            .toList();
    List<FeatureEdge> expected = want.stream().flatMap(c -> c.edges().stream()).toList();
    assertEquals(expected, got);
    assertEquals(10, got.size(), "heads 1 and 2 once each");
    assertTrue(got.get(0).value() < 0, "most negative first");
  }

  @Test
  void ropeProfileTakesFeaturePairsAndThePairing() {
    Analysis a =
        query()
            .heads(3)
            .pairing(Rope.Pairing.INTERLEAVED)
            .ropeProfile(new FeaturePair(17, 42), new FeaturePair(5, 5));
    Analysis b =
        query()
            .heads(3)
            .pairing(Rope.Pairing.INTERLEAVED)
            .ropeProfile(List.of(new FeaturePair(17, 42), new FeaturePair(5, 5)));
    int[] deltas = PositionalProfile.logDeltas(gemma.config().maxPositions(), 50);
    List<PositionalProfile.Point> want =
        PositionalProfile.ofSae(
            gemma.attention(1),
            Rope.of(gemma.config(), Rope.Pairing.INTERLEAVED),
            in,
            in,
            new int[][] {{17, 42}, {5, 5}},
            HeadSet.of(3),
            deltas,
            1.0);
    assertEquals(want.size(), a.table().rowCount());
    for (int i = 0; i < want.size(); i++) {
      assertEquals(want.get(i).queryFeature(), a.table().intColumn("query_feature").get(i));
      assertEquals(want.get(i).keyFeature(), a.table().intColumn("key_feature").get(i));
      assertEquals(want.get(i).score(), a.table().doubleColumn("score").get(i), 0.0);
      assertEquals(
          a.table().doubleColumn("score").get(i), b.table().doubleColumn("score").get(i), 0.0);
    }
    assertEquals(
        -1,
        query().heads(3).ropeProfile().table().intColumn("query_feature").get(0),
        "no pairs: b_dec");
    assertEquals("17:42", new FeaturePair(17, 42).toString());
    assertThrows(IllegalArgumentException.class, () -> new FeaturePair(-1, 2));
  }

  @Test
  void svdAndLoadingsTakeTheCircuitAndSide() {
    CircuitQuery q = query();
    assertArrayEquals(q.qkSvd(1).sigma(), q.svd(CircuitKind.QK, 1).sigma(), 0.0);
    assertArrayEquals(q.ovSvd(2).sigma(), q.svd(CircuitKind.OV, 2).sigma(), 0.0);
    Analysis l = q.loadings(CircuitKind.QK, 1, HeadSvd.Side.KEY, 2, 3);
    assertEquals(6, l.table().rowCount());
    assertTrue(l.title().contains("(key side)"), l.title());
    int[] top = HeadSvd.topByAbs(q.qkSvd(1).loadings(in.wDec(), HeadSvd.Side.KEY, 2)[1], 3);
    for (int i = 0; i < 3; i++) {
      assertEquals(top[i], l.table().intColumn("feature").get(3 + i), "direction 1, rank " + i);
    }
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> q.loadings(CircuitKind.QK, 1, HeadSvd.Side.VALUE, 2, 3));
    assertEquals("side value belongs to the OV circuit, not QK", e.getMessage());
  }

  @Test
  void enumsParseTheFrontEndsText() {
    assertEquals(CircuitKind.OV, CircuitKind.parse("OV"));
    assertEquals(HeadSvd.Side.OUTPUT, HeadSvd.Side.parse("output"));
    assertEquals(
        "circuit xy: expected qk or ov",
        assertThrows(IllegalArgumentException.class, () -> CircuitKind.parse("xy")).getMessage());
    assertEquals(
        "side up: expected query, key, value or output",
        assertThrows(IllegalArgumentException.class, () -> HeadSvd.Side.parse("up")).getMessage());
  }
}
