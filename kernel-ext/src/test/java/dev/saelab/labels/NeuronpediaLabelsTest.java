package dev.saelab.labels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.io.SaeLabException;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NeuronpediaLabelsTest {
  @TempDir Path dir;

  @Test
  void realLayer12ExportCountsAndGaps() {
    FeatureLabels l =
        NeuronpediaLabels.read(
            TestFiles.sharedFile("data/neuronpedia/gemma-2-2b_12-gemmascope-res-16k.json"));
    assertEquals("gemma-2-2b", l.modelId());
    assertEquals("12-gemmascope-res-16k", l.sourceId());
    assertEquals(16348, l.explanationCount());
    assertEquals(16347, l.maxIndex());
    assertEquals(36, l.missing(16384).size());
    assertTrue(l.label(0).orElseThrow().startsWith("references to labeled data"), l.label(0).get());
    assertFalse(l.label(0).get().startsWith(" "));
    assertEquals(
        "https://www.neuronpedia.org/gemma-2-2b/12-gemmascope-res-16k/7", l.url(7).orElseThrow());
  }

  @Test
  void realLayer13ExportHasDuplicatesAndGaps() {
    FeatureLabels l =
        NeuronpediaLabels.read(
            TestFiles.sharedFile("data/neuronpedia/gemma-2-2b_13-gemmascope-res-16k.json"),
            FeatureLabels.Policy.FIRST);
    assertEquals(16168, l.featureCount());
    assertEquals(16170, l.maxIndex());
    assertEquals(180, l.duplicated().size());
    assertEquals(216, l.missing(16384).size());
    int dup = l.duplicated().get(0);
    assertEquals(2, l.all(dup).size());
    assertEquals(l.all(dup).get(0).description(), l.label(dup).orElseThrow());
  }

  @Test
  void bulkExportFolderWithSeveralExplanationsPerFeature() {
    Path folder =
        TestFiles.datasets().resolve("tiny-neuronpedia/v1/tiny-gemma2/1-tinyscope-res-96");
    FeatureLabels newest = NeuronpediaLabels.read(folder);
    assertEquals("1-tinyscope-res-96", newest.sourceId());
    assertEquals(95, newest.featureCount());
    assertEquals("refreshed: tiny output feature 4", newest.label(4).orElseThrow());
    assertEquals("gemini-2.5-flash", newest.all(4).get(1).explainer());
    FeatureLabels first = NeuronpediaLabels.read(folder, FeatureLabels.Policy.FIRST);
    assertEquals("tiny output feature 4", first.label(4).orElseThrow());
    assertEquals("planted output feature (written by value 5)", first.label(63).orElseThrow());
    assertTrue(first.label(50).isEmpty());
  }

  @Test
  void oneExportHoldsOneSaesLabelsAndTheBulkLayoutNamesThem() throws IOException {
    Path f = dir.resolve("mixed.json");
    Files.writeString(
        f,
        "{\"explanations\":[{\"modelId\":\"gemma-2-2b\",\"layer\":\"12-gemmascope-res-16k\","
            + "\"index\":\"0\"},{\"modelId\":\"gpt2-small\",\"layer\":\"12-gemmascope-res-16k\",\"index\":\"1\"}]}");
    SaeLabException e = assertThrows(SaeLabException.class, () -> NeuronpediaLabels.read(f));
    assertTrue(
        e.getMessage()
            .contains("explanations[1]: modelId \"gpt2-small\" differs from \"gemma-2-2b\""),
        e.getMessage());
    Path bulk = Files.createDirectories(dir.resolve("v1/gpt2-small/8-res-jb/explanations"));
    Files.writeString(bulk.resolve("batch-0.jsonl"), "{\"index\":\"3\",\"description\":\"x\"}\n");
    for (Path p : new Path[] {bulk.getParent(), bulk, bulk.resolve("batch-0.jsonl")}) {
      FeatureLabels l = NeuronpediaLabels.read(p);
      assertEquals("gpt2-small/8-res-jb", l.modelId() + "/" + l.sourceId(), p.toString());
    }
  }

  @Test
  void nonNumericIndexAndBrokenFilesAreNamed() throws IOException {
    Path f = dir.resolve("labels.json");
    Files.writeString(
        f, "{\"explanations\":[{\"index\":\"0\",\"description\":\"a\"},{\"index\":\"x7\"}]}");
    SaeLabException e = assertThrows(SaeLabException.class, () -> NeuronpediaLabels.read(f));
    assertTrue(
        e.getMessage().contains(f.toString())
            && e.getMessage().contains("explanations[1]")
            && e.getMessage().contains("\"x7\""),
        e.getMessage());
    Files.writeString(f, "");
    e = assertThrows(SaeLabException.class, () -> NeuronpediaLabels.read(f));
    assertTrue(e.getMessage().contains("empty"), e.getMessage());
    Files.writeString(f, "{\"features\":[]}");
    e = assertThrows(SaeLabException.class, () -> NeuronpediaLabels.read(f));
    assertTrue(e.getMessage().contains("'explanations'"), e.getMessage());
    Path j = dir.resolve("batch-0.jsonl");
    Files.writeString(j, "{\"index\":\"1\",\"description\":\"ok\"}\n{broken\n");
    e = assertThrows(SaeLabException.class, () -> NeuronpediaLabels.read(j));
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
  }
}
