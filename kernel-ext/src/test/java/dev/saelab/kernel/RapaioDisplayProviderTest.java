package dev.saelab.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.api.FeatureTable;
import dev.saelab.api.Plot;
import dev.saelab.api.SaeLab;
import dev.saelab.kernel.rapaio.RapaioDisplayProvider;
import dev.saelab.testutil.TestFiles;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.rapaio.jupyter.kernel.display.DisplayData;
import org.rapaio.jupyter.kernel.display.DisplaySystem;
import org.rapaio.jupyter.kernel.display.spi.DisplayProvider;

/**
 * rapaio-jupyter-kernel 3.0.1's display SPI: our provider is found by ServiceLoader and renders our
 * types.
 */
class RapaioDisplayProviderTest {
  static final String D = TestFiles.datasets().toString();

  @Test
  void providerIsFoundAndRendersTablesAndPlots() {
    assertTrue(
        ServiceLoader.load(DisplayProvider.class).stream()
            .anyMatch(p -> p.type() == RapaioDisplayProvider.class),
        "service file registers the provider");
    DisplaySystem.inst().refreshSpiDisplayHandlers();
    FeatureTable t =
        SaeLab.circuits(SaeLab.model(D + "/tiny-gemma2"), 1)
            .saeIn(SaeLab.sae(D + "/tiny-gemma-scope/layer_0/width_128/average_l0_12"))
            .heads(1)
            .top(3)
            .qk();
    DisplayData dd = DisplaySystem.inst().render(t);
    assertTrue(
        String.valueOf(dd.data().get("text/html")).contains("<td>L1H1</td>"), dd.data().toString());
    Plot p = dev.saelab.api.Plots.topValues(t);
    DisplayData img = DisplaySystem.inst().render(p);
    assertTrue(
        img.data().containsKey("image/png") && !img.data().containsKey("image/svg+xml"),
        img.data().keySet().toString());
    assertEquals(java.util.Map.of("width", 720, "height", 420), img.metadata().get("image/png"));
    assertTrue(DisplaySystem.inst().render(p.withSvg()).data().containsKey("image/svg+xml"));
    DisplayData table = DisplaySystem.inst().render(t.toTablesaw());
    assertTrue(String.valueOf(table.data().get("text/html")).contains("saelabSort"));
  }
}
