package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.linalg.Progress;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The head-set value type, and that a repeated head is computed once. */
class HeadSetTest {
  @Test
  void headsAreSortedWithoutRepeatsAndCompareByValue() {
    HeadSet h = HeadSet.of(3, 0, 3, 1);
    assertEquals("0,1,3", h.toString());
    assertEquals(HeadSet.of(0, 1, 3), h);
    assertEquals(HeadSet.of(0, 1, 3).hashCode(), h.hashCode());
    assertEquals(HeadSet.of(1), HeadSet.of(1, 1));
    assertNotEquals(HeadSet.of(1), HeadSet.of(2));
    assertNotEquals(
        HeadSet.all(), HeadSet.of(0, 1, 2, 3), "all is every head of whatever layer, not a list");
    assertEquals("all", HeadSet.all().toString());
    assertTrue(HeadSet.all().isAll());
    assertFalse(h.isAll());
  }

  @Test
  void parsesTheTextFormBothFrontEndsUse() {
    assertEquals(HeadSet.all(), HeadSet.parse("all"));
    assertEquals(HeadSet.of(0, 3, 5), HeadSet.parse("5, 0,3"));
    assertEquals(HeadSet.of(1), HeadSet.parse("1,1"));
    assertEquals(
        HeadSet.parse(HeadSet.of(2, 7).toString()), HeadSet.of(2, 7), "toString is the parse form");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> HeadSet.parse("sum"));
    assertTrue(e.getMessage().contains("expected all or a list like 0,3,5"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> HeadSet.parse("1,-2"));
    assertTrue(e.getMessage().contains("head -2"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> HeadSet.of());
  }

  @Test
  void resolvesAgainstTheModelsHeadCount() {
    try (ModelWeights m = ModelWeights.open(TestFiles.datasets().resolve("tiny-gemma2"))) {
      assertArrayEquals(new int[] {0, 1, 2, 3}, HeadSet.all().resolve(m.config()));
      assertArrayEquals(new int[] {1, 3}, HeadSet.of(3, 1, 3).resolve(m.config()));
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> HeadSet.of(1, 4).resolve(m.config()));
      assertEquals("head 4 is not in 0..3: the layer has 4 query heads", e.getMessage());
      assertFalse(e.getMessage().contains("--"), "domain words, not a flag");
    }
  }

  @Test
  void specsWithTheSameHeadsAreEqualAndPrintTheirHeads() {
    CircuitSpec a = CircuitSpec.defaults().withHeads(1, 1, 0);
    assertEquals(CircuitSpec.defaults().withHeads(HeadSet.of(0, 1)), a);
    assertTrue(a.toString().contains("heads=0,1"), a.toString());
    assertFalse(a.toString().contains("[I@"), a.toString());
    assertThrows(
        IllegalArgumentException.class, () -> CircuitSpec.defaults().withHeads((HeadSet) null));
  }

  @Test
  void aRepeatedHeadIsComputedOnce() {
    Path d = TestFiles.datasets();
    try (ModelWeights m = ModelWeights.open(d.resolve("tiny-gemma2"));
        SaeDictionary in =
            SaeDictionary.open(d.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12"));
        FeatureCircuits fc = FeatureCircuits.of(m.attention(1), in, in, null)) {
      List<CircuitTable> t =
          fc.compute(
              CircuitSpec.defaults()
                  .withKinds(EnumSet.of(CircuitKind.QK))
                  .withTopK(3)
                  .withHeads(1, 1),
              Progress.NONE);
      assertEquals(1, t.size());
      assertEquals(1, t.get(0).head());
      List<CircuitTable> two =
          fc.compute(
              CircuitSpec.defaults()
                  .withKinds(EnumSet.of(CircuitKind.QK))
                  .withTopK(3)
                  .withHeads(3, 1),
              Progress.NONE);
      assertEquals(
          List.of(1, 3), two.stream().map(CircuitTable::head).toList(), "ascending head order");
    }
  }
}
