package dev.saelab.kernel.rapaio;

import dev.saelab.kernel.DisplaySink;
import dev.saelab.kernel.KernelAdapter;
import dev.saelab.kernel.KernelHost;
import java.util.Map;
import java.util.UUID;
import org.rapaio.jupyter.kernel.MainApp;
import org.rapaio.jupyter.kernel.display.DisplayData;
import org.rapaio.jupyter.kernel.display.DisplaySystem;

/**
 * rapaio-jupyter-kernel: refreshes its display SPI (so our renderers are found) and attaches the
 * display sink.
 */
public final class RapaioAdapter implements KernelAdapter {
  @Override
  public String name() {
    return "rapaio";
  }

  @Override
  public boolean installIntoRunningKernel() {
    if (MainApp.kernel == null) {
      return false;
    }
    DisplaySystem.inst().refreshSpiDisplayHandlers();
    KernelHost.attach(
        "rapaio",
        new DisplaySink() {
          @Override
          public String display(Map<String, Object> bundle) {
            return display(bundle, Map.of());
          }

          @Override
          public String display(Map<String, Object> bundle, Map<String, Object> metadata) {
            String id = UUID.randomUUID().toString();
            DisplayData dd = RapaioDisplayProvider.toDisplayData(bundle, metadata);
            dd.setDisplayId(id);
            MainApp.kernel.display(dd);
            return id;
          }

          @Override
          public void update(String displayId, Map<String, Object> bundle) {
            DisplayData dd = RapaioDisplayProvider.toDisplayData(bundle);
            dd.setDisplayId(displayId);
            MainApp.kernel.updateDisplay(dd);
          }
        });
    return true;
  }
}
