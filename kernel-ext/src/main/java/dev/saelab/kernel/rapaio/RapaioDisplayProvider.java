package dev.saelab.kernel.rapaio;

import dev.saelab.render.Renderers;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.rapaio.jupyter.kernel.display.DisplayData;
import org.rapaio.jupyter.kernel.display.DisplayRenderer;
import org.rapaio.jupyter.kernel.display.DisplayTransformer;
import org.rapaio.jupyter.kernel.display.spi.DisplayProvider;

/**
 * rapaio-jupyter-kernel (3.0.1): renderers through its {@code DisplayProvider} service. rapaio has
 * no public API for magics, so there the Java API ({@code SaeLab}) is the interface; {@code
 * SaeLab.magic("qk --heads 1")} runs the same magic engine.
 */
public final class RapaioDisplayProvider implements DisplayProvider {
  @Override
  public List<DisplayRenderer> getDisplayRenderers() {
    List<DisplayRenderer> out = new ArrayList<>();
    for (Class<?> type : Renderers.TYPES) {
      out.add(new Bundled(type));
    }
    return out;
  }

  @Override
  public List<DisplayTransformer> getDisplayTransformers() {
    return List.of();
  }

  /** rapaio display data holding every representation of the bundle. */
  static DisplayData toDisplayData(Map<String, Object> bundle) {
    DisplayData dd = DisplayData.fromText(String.valueOf(bundle.get("text/plain")));
    for (Map.Entry<String, Object> e : bundle.entrySet()) {
      dd.putData(e.getKey(), e.getValue());
    }
    return dd;
  }

  /** The same, with display metadata by MIME type (a plot's PNG display size). */
  static DisplayData toDisplayData(Map<String, Object> bundle, Map<String, Object> metadata) {
    DisplayData dd = toDisplayData(bundle);
    metadata.forEach(dd::putMetaData);
    return dd;
  }

  private record Bundled(Class<?> type) implements DisplayRenderer {
    @Override
    public Class<?> rendererClass() {
      return type;
    }

    @Override
    public boolean canRender(String mime) {
      return mime == null
          || mime.isBlank()
          || mime.contains("html")
          || mime.contains("png")
          || mime.contains("svg")
          || mime.contains("text");
    }

    @Override
    public DisplayData render(String mime, Object o) {
      return toDisplayData(Renderers.bundle(o), Renderers.metadata(o));
    }
  }
}
