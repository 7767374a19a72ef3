package dev.saelab.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.saelab.testutil.TestFiles;
import org.junit.jupiter.api.Test;

/** A model configuration is a value: equal exactly when every setting is. */
class ModelConfigTest {
  static ModelConfig gemma() {
    return ModelConfig.read(TestFiles.datasets().resolve("tiny-gemma2/config.json"));
  }

  static ModelConfig with(ModelConfig c, double normEps, boolean postAttnNorm, boolean[] sliding) {
    return new ModelConfig(
        c.modelType(),
        c.dModel(),
        c.nLayers(),
        c.nHeads(),
        c.nKvHeads(),
        c.dHead(),
        c.norm(),
        normEps,
        c.ropeTheta(),
        c.queryScale(),
        c.attnSoftcap(),
        c.slidingWindow(),
        sliding,
        postAttnNorm,
        c.maxPositions());
  }

  @Test
  void configsDifferingInNormEpsOrPostAttnNormAreUnequal() {
    ModelConfig c = gemma();
    ModelConfig same = with(c, c.normEps(), c.postAttnNorm(), c.slidingLayers());
    assertEquals(c, same);
    assertEquals(c.hashCode(), same.hashCode());
    assertNotEquals(c, with(c, c.normEps() * 10, c.postAttnNorm(), c.slidingLayers()), "normEps");
    assertNotEquals(c, with(c, c.normEps(), !c.postAttnNorm(), c.slidingLayers()), "postAttnNorm");
    boolean[] other = c.slidingLayers();
    other[0] = !other[0];
    assertNotEquals(c, with(c, c.normEps(), c.postAttnNorm(), other), "sliding layers");
  }

  @Test
  void slidingLayersCannotBeChangedFromOutside() {
    ModelConfig c = gemma();
    boolean wasSliding = c.isSliding(0);
    c.slidingLayers()[0] = !wasSliding;
    assertEquals(wasSliding, c.isSliding(0));
    boolean[] given = c.slidingLayers();
    ModelConfig copy = with(c, c.normEps(), c.postAttnNorm(), given);
    given[0] = !wasSliding;
    assertEquals(wasSliding, copy.isSliding(0));
    assertFalse(copy.slidingLayers() == copy.slidingLayers());
  }
}
