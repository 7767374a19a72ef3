package dev.saelab.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.model.ModelWeights;
import dev.saelab.render.Renderers;
import dev.saelab.testutil.TestFiles;
import org.junit.jupiter.api.Test;

/**
 * {@code SaeLab.attention}: a head's pattern on token ids, against the numpy reference forward
 * pass.
 */
class AttentionApiTest {
  @Test
  void aHeadsPatternAndScoresMatchTheReferenceAndPlot() throws Exception {
    JsonNode ref =
        new ObjectMapper()
            .readTree(TestFiles.datasets().resolve("reference/forward.json").toFile());
    int[] ids = new int[ref.get("token_ids").size()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = ref.get("token_ids").get(i).asInt();
    }
    JsonNode layer = ref.get("gemma2").get("layers").get(1);
    try (ModelWeights m = ModelWeights.open(TestFiles.datasets().resolve("tiny-gemma2"))) {
      Analysis a = SaeLab.attention(m, 1, 2, ids);
      var t = a.table();
      assertEquals(ids.length * (ids.length + 1) / 2, t.rowCount(), "every allowed (query, key)");
      for (int r = 0; r < t.rowCount(); r++) {
        int q = t.intColumn("query_pos").get(r);
        int k = t.intColumn("key_pos").get(r);
        double p = layer.get("pattern").get(2).get(q).get(k).asDouble();
        double s = layer.get("attn_scores").get(2).get(q).get(k).asDouble();
        assertEquals(p, t.doubleColumn("pattern").get(r), 1e-4 * Math.abs(p) + 1e-5, q + "," + k);
        assertEquals(s, t.doubleColumn("score").get(r), 1e-4 * Math.abs(s) + 1e-5, q + "," + k);
      }
      assertTrue(Renderers.bundle(a).containsKey("text/html"));
      assertTrue(a.plot().png().length > 1000, "the heat map renders");
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> SaeLab.attention(m, 1, 9, ids));
      assertTrue(e.getMessage().contains("heads 0..3"), e.getMessage());
    }
  }
}
