package dev.saelab.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.model.ModelWeights;
import dev.saelab.render.Renderers;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The per-token views: token labels on axes, the strip of each token's strongest features. */
class BehaviourViewsTest {
  @Test
  void axisLabelsShowTheTokensWhenTheModelHasATokenizer() {
    try (ModelWeights g = ModelWeights.open(TestFiles.datasets().resolve("tiny-gemma2"));
        ModelWeights q = ModelWeights.open(TestFiles.datasets().resolve("tiny-qwen3"))) {
      // "<bos> the cat" with the tiny Gemma tokenizer (TokenizerTest)
      assertEquals(List.of("0:<bos>", "1:the", "2:cat"), SaeLab.tokenTicks(g, new int[] {2, 4, 5}));
      if (!java.nio.file.Files.exists(q.folder().resolve("tokenizer.json"))) {
        assertEquals(List.of("0:7", "1:9"), SaeLab.tokenTicks(q, new int[] {7, 9}), "ids");
      }
    }
  }

  @Test
  void theStripListsEachTokensStrongestFeaturesAsTheReferenceEncodesThem() throws Exception {
    JsonNode ref =
        new ObjectMapper()
            .readTree(TestFiles.datasets().resolve("reference/validation.json").toFile());
    int[] ids = new int[ref.get("token_ids").size()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = ref.get("token_ids").get(i).asInt();
    }
    try (ModelWeights m = ModelWeights.open(TestFiles.datasets().resolve("tiny-gemma2"));
        SaeDictionary sae =
            SaeDictionary.open(
                TestFiles.datasets().resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12"))) {
      FeatureLabels labels =
          NeuronpediaLabels.read(
              TestFiles.datasets()
                  .resolve("tiny-neuronpedia/tiny-gemma2_0-tinyscope-res-128.json"));
      Analysis a = SaeLab.tokenFeatures(m, 1, sae, labels, 3, ids);
      var t = a.table();
      assertEquals(3 * ids.length, t.rowCount());
      for (JsonNode p : ref.get("gemma2").get("active")) {
        int pos = p.get("position").asInt();
        List<double[]> fv = new ArrayList<>();
        for (int i = 0; i < p.get("features").size(); i++) {
          fv.add(
              new double[] {p.get("features").get(i).asInt(), p.get("values").get(i).asDouble()});
        }
        fv.sort((x, y) -> Double.compare(y[1], x[1]));
        for (int r = 0; r < 3; r++) {
          int row = 3 * pos + r;
          assertEquals(pos, t.intColumn("position").get(row));
          assertEquals(r + 1, t.intColumn("rank").get(row));
          assertEquals((int) fv.get(r)[0], t.intColumn("feature").get(row), "position " + pos);
          assertEquals(fv.get(r)[1], t.doubleColumn("activation").get(row), 1e-4 * fv.get(r)[1]);
          assertEquals(labels.labelOrEmpty((int) fv.get(r)[0]), t.stringColumn("label").get(row));
        }
      }
      assertTrue(
          Renderers.bundle(a).get("text/html").toString().contains("data:image/png;base64,"));
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> SaeLab.tokenFeatures(m, 0, sae, labels, 3, ids));
      assertTrue(e.getMessage().contains("not of layer 0"), e.getMessage());
    }
  }
}
