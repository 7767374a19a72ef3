package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.forward.Activations;
import dev.saelab.forward.ForwardPass;
import dev.saelab.model.ModelWeights;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link PathTrace}: a backward trace built from {@link HeadPaths} one level at a time. */
class PathTraceTest {
  @Test
  void eachLevelIsTheHeadPathsOfTheHeadAbove() throws IOException {
    int[] ids = {2, 17, 5, 33, 9, 41, 12, 60};
    try (ModelWeights w = ModelWeights.open(TestFiles.datasets().resolve("tiny-gemma3"));
        Activations a = ForwardPass.run(w, ids, PathTrace.hooks(3))) {
      List<PathTrace.Edge> edges = PathTrace.of(w, a, 3, 1, 7, 2, 0.9, 2, 3);
      assertFalse(edges.isEmpty());
      assertTrue(edges.stream().anyMatch(e -> e.depth() == 2), edges.toString());
      HeadPaths top = HeadPaths.of(w, a, 3, 1, 7, 2, 0.9);
      List<PathTrace.Edge> first = edges.stream().filter(e -> e.depth() == 1).toList();
      assertEquals(2, first.size());
      for (int i = 0; i < 2; i++) {
        HeadPaths.Path p = top.topHeadPaths(2).get(i);
        assertEquals(p.source().name(), first.get(i).source());
        assertEquals(p.contribution(), first.get(i).contribution(), 1e-12);
        assertEquals(p.side() == HeadSvd.Side.QUERY ? 7 : 2, first.get(i).sourceQuery());
      }
      for (PathTrace.Edge e : edges) {
        if (e.depth() > 1) {
          // a deeper edge reads into a source found one level up, at that source's positions
          assertTrue(
              edges.stream()
                  .anyMatch(
                      f ->
                          f.depth() == e.depth() - 1
                              && f.source().equals(e.target())
                              && f.sourceQuery() == e.targetQuery()
                              && f.sourceKey() == e.targetKey()),
              e.toString());
        }
        int layer = Integer.parseInt(e.source().substring(1, e.source().indexOf('H')));
        HeadPaths hp =
            HeadPaths.of(
                w,
                a,
                Integer.parseInt(e.target().substring(1, e.target().indexOf('H'))),
                Integer.parseInt(e.target().substring(e.target().indexOf('H') + 1)),
                e.targetQuery(),
                e.targetKey(),
                0.9);
        assertTrue(
            hp.headPaths().stream()
                .anyMatch(
                    p ->
                        p.source().name().equals(e.source())
                            && p.source().layer() == layer
                            && p.k() == e.k()
                            && p.side() == e.side()
                            && p.contribution() == e.contribution()),
            e.toString());
      }
      System.out.println("trace on tiny-gemma3 from L3H1 (7 -> 2):");
      edges.forEach(System.out::println);
    }
  }

  @Test
  void findsThePlantedSource(@TempDir Path dir) throws IOException {
    try (ModelWeights w = ModelWeights.open(PromptSvdTest.plantedGpt2(dir))) {
      List<PathTrace.Edge> edges =
          PathTrace.trace(w, new int[] {1, 5, 2, 7, 3, 0}, 1, 0, 5, 2, 0.9, 1, 2);
      assertEquals(1, edges.size(), edges.toString());
      assertEquals("L0H0", edges.get(0).source());
      assertTrue(edges.get(0).share() > 0.8);
    }
  }
}
