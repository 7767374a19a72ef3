package dev.saelab.labels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.io.SaeLabException;
import dev.saelab.sae.SaeConfig;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Labels are shown only beside the SAE they belong to: model, Neuronpedia source and indices are
 * compared.
 */
class LabelMatchTest {
  static final Path D = TestFiles.datasets();
  static final Path SAE0 = D.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12");
  static final Path SAE1 = D.resolve("tiny-gemma-scope/layer_1/width_96/average_l0_9");
  static final Path GPT2_SAE = D.resolve("tiny-saelens/blocks.1.hook_resid_pre");
  static final Path LABELS0 = D.resolve("tiny-neuronpedia/tiny-gemma2_0-tinyscope-res-128.json");
  static final Path LABELS1 = D.resolve("tiny-neuronpedia/v1/tiny-gemma2/1-tinyscope-res-96");
  static final Path GPT2_LABELS = D.resolve("tiny-neuronpedia/tiny-gpt2_1-res-tiny.json");
  @TempDir Path dir;

  static FeatureLabels labels(String model, String source, int... indices) {
    Map<Integer, List<Explanation>> m = new LinkedHashMap<>();
    for (int i : indices) {
      m.put(i, List.of(new Explanation(i, "feature " + i, "", "", "", "feature " + i)));
    }
    return new FeatureLabels(model, source, "test-labels.json", m, FeatureLabels.Policy.NEWEST);
  }

  static SaeConfig gemmaScope(String model, int layer, long dSae) {
    return new SaeConfig(
        "gemma-scope",
        "jumprelu",
        2304,
        dSae,
        layer < 0 ? null : "blocks." + layer + ".hook_resid_post",
        layer,
        false,
        0,
        null,
        false,
        model);
  }

  static SaeConfig saeLens(String model, String hook, int layer, long dSae, String npId) {
    return new SaeConfig("saelens", "standard", 768, dSae, hook, layer, true, 0, npId, true, model);
  }

  static Optional<String> check(Path labels, Path sae) {
    try (SaeDictionary s = SaeDictionary.open(sae)) {
      return LabelMatch.check(NeuronpediaLabels.read(labels), s.config(), sae.toString());
    }
  }

  @Test
  void shippedLabelsFitTheShippedSaesWithoutWarning() {
    assertEquals(Optional.empty(), check(LABELS0, SAE0));
    assertEquals(Optional.empty(), check(LABELS1, SAE1));
    assertEquals(Optional.empty(), check(GPT2_LABELS, GPT2_SAE));
  }

  @Test
  void anotherModelIsRefusedInOneLineNamingBoth() {
    SaeLabException e = assertThrows(SaeLabException.class, () -> check(GPT2_LABELS, SAE1));
    String msg = e.getMessage();
    assertTrue(msg.contains(GPT2_LABELS.toString()) && msg.contains(SAE1.toString()), msg);
    assertTrue(msg.contains("model tiny-gpt2 vs a Gemma model"), msg);
    assertFalse(msg.contains("\n"), msg);
    e = assertThrows(SaeLabException.class, () -> check(LABELS0, GPT2_SAE));
    assertTrue(e.getMessage().contains("model tiny-gemma2 vs tiny-gpt2"), e.getMessage());
    e =
        assertThrows(
            SaeLabException.class,
            () ->
                LabelMatch.check(
                    labels("gpt2-small", "12-res-jb", 5),
                    gemmaScope("gemma-2-2b", 12, 16384),
                    "sae12"));
    assertTrue(e.getMessage().contains("model gpt2-small vs gemma-2-2b"), e.getMessage());
  }

  @Test
  void anIndexAtOrBeyondDSaeIsRefused() {
    SaeLabException e =
        assertThrows(
            SaeLabException.class,
            () ->
                LabelMatch.check(
                    labels("tiny-gemma2", "0-tinyscope-res-128", 3, 128),
                    gemmaScope(null, 0, 128),
                    "sae0"));
    assertTrue(e.getMessage().endsWith("feature index 128 >= d_sae 128"), e.getMessage());
    // an SAE that names nothing still has its width
    e =
        assertThrows(
            SaeLabException.class,
            () ->
                LabelMatch.check(
                    labels(null, null, 70), saeLens(null, null, -1, 64, null), "anon"));
    assertTrue(e.getMessage().contains("feature index 70 >= d_sae 64"), e.getMessage());
  }

  @Test
  void anotherLayerWidthOrSourceIsRefused() {
    SaeConfig sae12 = gemmaScope("gemma-2-2b", 12, 16384);
    SaeLabException e =
        assertThrows(
            SaeLabException.class,
            () ->
                LabelMatch.check(labels("gemma-2-2b", "13-gemmascope-res-16k", 1), sae12, "sae12"));
    assertTrue(
        e.getMessage().contains("layer 13 (source 13-gemmascope-res-16k) vs 12"), e.getMessage());
    e =
        assertThrows(
            SaeLabException.class,
            () ->
                LabelMatch.check(labels("gemma-2-2b", "12-gemmascope-res-65k", 1), sae12, "sae12"));
    assertTrue(
        e.getMessage().contains("width 65k (source 12-gemmascope-res-65k) vs d_sae 16384"),
        e.getMessage());
    e = assertThrows(SaeLabException.class, () -> check(LABELS0, SAE1));
    assertTrue(
        e.getMessage().contains("layer 0")
            && e.getMessage().contains("width 128")
            && e.getMessage().contains("feature index 127 >= d_sae 96"),
        e.getMessage());
    e =
        assertThrows(
            SaeLabException.class,
            () ->
                LabelMatch.check(
                    labels("tiny-gpt2", "1-res-post-tiny", 1),
                    saeLens("tiny-gpt2", "blocks.1.hook_resid_pre", 1, 64, "tiny-gpt2/1-res-tiny"),
                    "pre"));
    assertTrue(e.getMessage().contains("source 1-res-post-tiny vs 1-res-tiny"), e.getMessage());
  }

  @Test
  void matchingIdsInOtherFormsAreAccepted() {
    assertEquals(
        Optional.empty(),
        LabelMatch.check(
            labels("gemma-2-2b", "12-gemmascope-res-16k", 16383),
            gemmaScope("google/gemma-2-2b", 12, 16384),
            "sae12"));
    assertEquals(
        Optional.empty(),
        LabelMatch.check(
            labels("gemma-2-2b", "20-gemmascope-res-1m__l0-101", 7),
            gemmaScope(null, 20, 1 << 20),
            "sae20"));
    // res-jb numbers blocks.11.hook_resid_post as source 12 (the input of block 12)
    assertEquals(
        Optional.empty(),
        LabelMatch.check(
            labels("gpt2-small", "12-res-jb", 1),
            saeLens("gpt2", "blocks.11.hook_resid_post", 11, 24576, null),
            "jb11"));
    assertEquals(
        Optional.empty(),
        LabelMatch.check(
            labels("gpt2-small", "8-res_post_32k-oai", 1),
            saeLens("gpt2-small", "blocks.8.hook_resid_post", 8, 32768, null),
            "oai8"));
    assertEquals("gemma22b", LabelMatch.model("hf://google/Gemma_2-2B"));
  }

  @Test
  void anSaeThatNamesNothingIsAcceptedWithExactlyOneWarning() throws IOException {
    Path sae = TestFiles.anonymousSaeLens(dir.resolve("anon"), 4, 128);
    FeatureLabels l = NeuronpediaLabels.read(LABELS0);
    List<String> warnings = new ArrayList<>();
    try (SaeDictionary s = SaeDictionary.open(sae)) {
      LabelMatch.require(l, s, warnings::add);
      LabelMatch.require(l, s, warnings::add);
    }
    assertEquals(1, warnings.size(), warnings.toString());
    String w = warnings.get(0);
    assertTrue(w.startsWith("warning: cannot confirm that labels " + LABELS0), w);
    assertTrue(w.contains("SAE " + sae) && w.contains("the SAE names no model or layer"), w);
    assertFalse(w.contains("\n"), w);
    // an export that names nothing warns the same way
    Optional<String> none =
        LabelMatch.check(labels(null, null, 1), gemmaScope("gemma-2-2b", 12, 16384), "sae12");
    assertTrue(none.orElseThrow().contains("the export names no model or source"), none.toString());
  }
}
