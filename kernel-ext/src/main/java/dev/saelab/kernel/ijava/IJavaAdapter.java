package dev.saelab.kernel.ijava;

import dev.saelab.kernel.DisplaySink;
import dev.saelab.kernel.KernelAdapter;
import dev.saelab.kernel.KernelHost;
import dev.saelab.magic.SaeLabMagics;
import dev.saelab.render.Renderers;
import io.github.spencerpark.jupyter.kernel.BaseKernel;
import io.github.spencerpark.jupyter.kernel.display.DisplayData;
import io.github.spencerpark.jupyter.kernel.display.Renderer;
import io.github.spencerpark.jupyter.kernel.display.mime.MIMEType;
import io.github.spencerpark.jupyter.kernel.magic.registry.Magics;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.WeakHashMap;

/**
 * IJava 1.3.0 (basekernel 2.3.0): no auto-load, so {@code SaeLab.init()} (or IJava's startup
 * script) installs the renderers, the line magics and the display sink. The kernel and its {@code
 * getMagics()} are reached reflectively because IJava's own classes were never published to Maven
 * Central.
 */
public final class IJavaAdapter implements KernelAdapter {
  private static final Set<Object> INSTALLED = Collections.newSetFromMap(new WeakHashMap<>());

  @Override
  public String name() {
    return "ijava";
  }

  @Override
  public boolean installIntoRunningKernel() {
    try {
      Object k =
          Class.forName("io.github.spencerpark.ijava.IJava")
              .getMethod("getKernelInstance")
              .invoke(null);
      if (!(k instanceof BaseKernel kernel)) {
        return false;
      }
      Magics magics = (Magics) k.getClass().getMethod("getMagics").invoke(k);
      install(kernel, magics);
      return true;
    } catch (ReflectiveOperationException | ClassCastException e) {
      return false;
    }
  }

  /**
   * Installs into a basekernel kernel and its magics registry (public for tests with a real
   * basekernel).
   */
  public static void install(BaseKernel kernel, Magics magics) {
    synchronized (INSTALLED) {
      if (!INSTALLED.add(kernel)) {
        return;
      }
    }
    Renderer r = kernel.getRenderer();
    for (Class<?> type : Renderers.TYPES) {
      register(r, type);
    }
    SaeLabMagics m = SaeLabMagics.shared();
    for (String name : SaeLabMagics.NAMES) {
      magics.registerLineMagic(name, args -> m.eval(name, args));
    }
    KernelHost.attach("ijava", new Sink(kernel));
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static void register(Renderer r, Class<?> type) {
    r.createRegistration((Class) type)
        .preferring(MIMEType.TEXT_HTML, MIMEType.IMAGE_PNG, MIMEType.IMAGE_SVG)
        .register(
            (data, ctx) -> {
              Map<String, Object> bundle = Renderers.bundle(data);
              for (Map.Entry<String, Object> e : bundle.entrySet()) {
                if (!e.getKey().equals("text/plain")) {
                  ctx.renderIfRequested(MIMEType.parse(e.getKey()), () -> e.getValue());
                }
              }
              ctx.getOutputContainer().putText(String.valueOf(bundle.get("text/plain")));
              Renderers.metadata(data)
                  .forEach(ctx.getOutputContainer()::putMetaData); // a plot's PNG display size
            });
  }

  private static DisplayData toDisplayData(Map<String, Object> bundle) {
    DisplayData dd = new DisplayData();
    for (Map.Entry<String, Object> e : bundle.entrySet()) {
      dd.putData(e.getKey(), e.getValue());
    }
    return dd;
  }

  private static DisplayData toDisplayData(
      Map<String, Object> bundle, Map<String, Object> metadata) {
    DisplayData dd = toDisplayData(bundle);
    metadata.forEach(dd::putMetaData);
    return dd;
  }

  private static final class Sink implements DisplaySink {
    private final BaseKernel kernel;

    Sink(BaseKernel kernel) {
      this.kernel = kernel;
    }

    @Override
    public String display(Map<String, Object> bundle) {
      return display(bundle, Map.of());
    }

    @Override
    public String display(Map<String, Object> bundle, Map<String, Object> metadata) {
      String id = UUID.randomUUID().toString();
      DisplayData dd = toDisplayData(bundle, metadata);
      dd.putTransientData(DisplayData.DISPLAY_ID_KEY, id);
      kernel.display(dd);
      return id;
    }

    @Override
    public void update(String displayId, Map<String, Object> bundle) {
      kernel.getIO().display.updateDisplay(displayId, toDisplayData(bundle));
    }
  }
}
