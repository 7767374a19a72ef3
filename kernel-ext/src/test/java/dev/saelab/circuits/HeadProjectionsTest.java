package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.saelab.linalg.FactoredProduct;
import dev.saelab.linalg.Progress;
import dev.saelab.linalg.RankBy;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A head's circuit as a factored product of the projections, giving the same table as
 * FeatureCircuits.
 */
class HeadProjectionsTest {
  @Test
  void aHeadsProductGivesItsTableAndSharesKvBlocks() {
    Path d = TestFiles.datasets();
    try (ModelWeights m = ModelWeights.open(d.resolve("tiny-gemma2"));
        SaeDictionary in =
            SaeDictionary.open(d.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12"));
        SaeDictionary out =
            SaeDictionary.open(d.resolve("tiny-gemma-scope/layer_1/width_96/average_l0_9"));
        FeatureCircuits fc = FeatureCircuits.of(m.attention(1), in, in, out)) {
      HeadProjections hp = fc.projections();
      List<CircuitTable> tables = fc.compute(CircuitSpec.defaults().withTopK(12), Progress.NONE);
      for (CircuitKind kind : CircuitKind.values()) {
        for (int h = 0; h < 4; h++) {
          FactoredProduct prod = hp.product(kind, h);
          assertEquals(
              tables.get(kind.ordinal() * 4 + h).edges(),
              prod.topK(12, RankBy.ABS, false),
              kind + " " + h);
        }
      }
      // heads 0 and 1 read KV head 0: the same key block object, so a workspace prepares it once
      assertSame(hp.product(CircuitKind.QK, 0).right(), hp.product(CircuitKind.QK, 1).right());
      assertNotSame(hp.product(CircuitKind.QK, 1).right(), hp.product(CircuitKind.QK, 2).right());
      assertEquals(128, hp.product(CircuitKind.OV, 2).rows());
      assertEquals(96, hp.product(CircuitKind.OV, 2).cols());
    }
  }
}
