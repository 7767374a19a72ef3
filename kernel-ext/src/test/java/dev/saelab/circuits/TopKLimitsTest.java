package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.io.SaeLabException;
import dev.saelab.linalg.FactoredProduct;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.Progress;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A top-k larger than the table is the whole table; one that cannot fit in memory fails before it
 * starts.
 */
class TopKLimitsTest {
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

  static Set<Long> pairs(List<FeatureEdge> edges) {
    Set<Long> s = new HashSet<>();
    for (FeatureEdge e : edges) {
      s.add((long) e.row() << 32 | e.col());
    }
    return s;
  }

  @Test
  void aHugeTopKGivesTheWholeTable() {
    try (FeatureCircuits fc = FeatureCircuits.of(gemma.attention(1), in, in, out)) {
      List<CircuitTable> all =
          fc.compute(CircuitSpec.defaults().withTopK(2_000_000_000), Progress.NONE);
      List<CircuitTable> top = fc.compute(CircuitSpec.defaults().withTopK(40), Progress.NONE);
      assertEquals(8, all.size());
      for (int t = 0; t < 8; t++) {
        List<FeatureEdge> e = all.get(t).edges();
        int cols = t < 4 ? 128 : 96;
        assertEquals(
            128 * cols,
            e.size(),
            all.get(t).kind() + " head " + all.get(t).head() + ": rows × cols");
        assertEquals(128 * cols, pairs(e).size(), "each entry once");
        assertEquals(top.get(t).edges(), e.subList(0, 40), "the same order as a smaller top-k");
      }
      List<CircuitTable> noSelf =
          fc.compute(
              CircuitSpec.defaults()
                  .withTopK(Integer.MAX_VALUE)
                  .withExcludeSelf(true)
                  .withKinds(EnumSet.of(CircuitKind.QK))
                  .withHeads(2),
              Progress.NONE);
      assertEquals(128 * 128 - 128, noSelf.get(0).edges().size(), "less the diagonal");
      LayerTable sum =
          fc.computeSum(
              CircuitKind.QK, CircuitSpec.defaults().withTopK(2_000_000_000), Progress.NONE);
      assertEquals(128 * 128, sum.edges().size());
      assertTrue(sum.distributed().isEmpty(), "every pair is in every head's (whole) table");
    }
  }

  @Test
  void theEngineClampsToTheTableSize() {
    assertEquals(12, FactoredProduct.entries(3, 4, false));
    assertEquals(9, FactoredProduct.entries(3, 4, true));
    assertEquals(0, FactoredProduct.entries(1, 1, true));
  }

  @Test
  void theEstimateIncludesTheHeapsAsComputedByHand() {
    // 4 heads, QK 128 × 128 and OV 128 × 96 whole, 2 workers: tables 4·(16384 + 12288)·40 B, one
    // call's working
    // set 16384·(16·(2 + 1) + 32 + 40) B.
    assertEquals(
        4 * 28672 * 40 + 16384 * 120, MemoryEstimate.perHeadTables(4, 16384, 12288, 2, false));
    assertEquals(6_553_600, MemoryEstimate.perHeadTables(4, 16384, 12288, 2, false));
    assertEquals(
        6_553_600 + 16384 * 40,
        MemoryEstimate.perHeadTables(4, 16384, 12288, 2, true),
        "scaled copy");
    assertEquals(1000L * (16 * 5 + 32 + 40), FactoredProduct.workingHeapBytes(1000, 4));
    // summed: the call's working set and per entry an edge (48 + 8 B) with two arrays of 4 doubles
    // (16 + 32 B each)
    assertEquals(16384 * 120 + 16384 * (56 + 2 * 48), MemoryEstimate.summedTable(4, 16384, 2));
  }

  @Test
  void aRequestThatCannotFitFailsAtOnceNamingTheMemory() {
    INDArray dec = Nd4j.rand(DataType.FLOAT, 60_000, 48);
    try (FeatureCircuits fc =
        FeatureCircuits.fromArrays(gemma.attention(1), dec, null, null, false)) {
      long t0 = System.nanoTime();
      SaeLabException e =
          assertThrows(
              SaeLabException.class,
              () ->
                  fc.compute(
                      CircuitSpec.defaults()
                          .withKinds(EnumSet.of(CircuitKind.QK))
                          .withTopK(2_000_000_000),
                      Progress.NONE));
      String m = e.getMessage();
      assertTrue(
          m.matches(
              "top-k 2000000000 per head for layer 1 needs about \\d+ MiB of Java heap but only"
                  + " \\d+ MiB is available .*"),
          m);
      assertTrue(!m.contains("\n"), "one line");
      assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "before any tile is computed");
      e =
          assertThrows(
              SaeLabException.class,
              () ->
                  fc.computeSum(
                      CircuitKind.QK,
                      CircuitSpec.defaults().withTopK(2_000_000_000),
                      Progress.NONE));
      assertTrue(
          e.getMessage()
              .startsWith("top-k 2000000000 summed over the heads of layer 1 needs about"),
          e.getMessage());
    } finally {
      dec.close();
    }
  }
}
