package dev.saelab.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.api.FeatureTable;
import dev.saelab.api.SaeLab;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java API a notebook uses: SaeLab, CircuitQuery, FeatureTable, progress bars, interruption.
 */
class NotebookTest {
  static final String D = TestFiles.datasets().toString();

  /** Records what would be displayed. */
  static final class RecordingSink implements DisplaySink {
    final List<String> events = new ArrayList<>();

    @Override
    public String display(Map<String, Object> bundle) {
      events.add("display " + bundle.get("text/plain"));
      return "id-" + events.size();
    }

    @Override
    public void update(String displayId, Map<String, Object> bundle) {
      events.add("update " + displayId + " " + bundle.get("text/plain"));
    }
  }

  @Test
  void facadeComputesTheSameTablesAsTheMagics(@TempDir Path dir) throws Exception {
    ModelWeights model = SaeLab.model(D + "/tiny-gemma2");
    SaeDictionary sae0 = SaeLab.sae(D + "/tiny-gemma-scope/layer_0/width_128/average_l0_12");
    SaeDictionary sae1 = SaeLab.sae(D + "/tiny-gemma-scope/layer_1/width_96/average_l0_9");
    FeatureTable both = SaeLab.circuits(model, 1).saeIn(sae0).saeOut(sae1).top(4).both();
    assertEquals(8, both.circuitTables().size());
    FeatureTable qk = both.circuit(CircuitKind.QK).forHead(1);
    assertEquals(17, qk.rows().get(0).rowFeature());
    SaeLab.magic("%model " + D + "/tiny-gemma2 --layer 1");
    SaeLab.magic("sae " + D + "/tiny-gemma-scope/layer_0/width_128/average_l0_12");
    FeatureTable viaMagic = SaeLab.magic("qk --heads 1 --top 4");
    assertEquals(qk.rows(), viaMagic.rows());
    Path csv = dir.resolve("qk.csv");
    qk.writeCsv(csv);
    assertTrue(
        Files.readAllLines(csv).get(1).startsWith("qk,1,1,1,17,42,"),
        Files.readAllLines(csv).get(1));
    assertThrows(IllegalArgumentException.class, () -> both.writeCsv(dir.resolve("mixed.csv")));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> SaeLab.circuits(model, 1).saeIn(sae0).ov());
    assertTrue(e.getMessage().contains("saeOut"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> SaeLab.circuits(model, 5));
    assertTrue(e.getMessage().contains("0..1"), e.getMessage());
    assertEquals(qk.head(2).size(), 2);
    assertTrue(qk.distinct().rows().stream().noneMatch(r -> r.rowFeature() == r.colFeature()));
  }

  @Test
  void progressBarDisplaysOnceThenUpdatesInPlace() {
    RecordingSink sink = new RecordingSink();
    ProgressBar bar = new ProgressBar(sink);
    bar.update("qk L1H0", 0, 10);
    bar.update("qk L1H0", 1, 10); // within 200 ms: dropped
    bar.update("qk L1H0", 10, 10); // finished: always shown
    assertEquals(
        List.of("display qk L1H0 0% (0/10 tiles)", "update id-1 qk L1H0 100% (10/10 tiles)"),
        sink.events);
    String html = ProgressBar.bundle("qk", 3, 4).get("text/html").toString();
    assertTrue(html.contains("<progress value=\"3\" max=\"4\""), html);
  }

  @Test
  void tablesShowProgressThroughTheAttachedNotebook() {
    RecordingSink sink = new RecordingSink();
    KernelHost.attach("test", sink);
    try {
      ModelWeights model = SaeLab.model(D + "/tiny-gemma2");
      SaeDictionary sae0 = SaeLab.sae(D + "/tiny-gemma-scope/layer_0/width_128/average_l0_12");
      SaeLab.circuits(model, 1).saeIn(sae0).top(3).qk();
      assertTrue(sink.events.get(0).startsWith("display "), sink.events.toString());
      assertTrue(
          sink.events.get(sink.events.size() - 1).contains("done 100%"), sink.events.toString());
    } finally {
      KernelHost.attach("none", null);
    }
  }

  @Test
  void anInterruptStopsTheComputationAndTheNextCallWorks() {
    ModelWeights model = SaeLab.model(D + "/tiny-gemma2");
    SaeDictionary sae0 = SaeLab.sae(D + "/tiny-gemma-scope/layer_0/width_128/average_l0_12");
    Thread.currentThread().interrupt(); // what a kernel's interrupt does to the executing thread
    assertThrows(
        CancellationException.class, () -> SaeLab.circuits(model, 1).saeIn(sae0).top(3).qk());
    Thread.interrupted();
    assertEquals(12, SaeLab.circuits(model, 1).saeIn(sae0).top(3).qk().size());
  }
}
