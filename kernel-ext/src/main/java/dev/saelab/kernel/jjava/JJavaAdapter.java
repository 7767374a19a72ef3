package dev.saelab.kernel.jjava;

import dev.saelab.kernel.DisplaySink;
import dev.saelab.kernel.KernelAdapter;
import dev.saelab.kernel.KernelHost;
import dev.saelab.magic.SaeLabMagics;
import dev.saelab.render.Renderers;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.WeakHashMap;
import org.dflib.jjava.jupyter.Extension;
import org.dflib.jjava.jupyter.kernel.BaseKernel;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.display.mime.MIMEType;
import org.dflib.jjava.jupyter.kernel.magic.MagicsRegistry;

/**
 * JJava (≥ 1.0-a6): installed automatically through the {@link Extension} service when the jar
 * reaches the kernel's classpath ({@code %maven}, {@code %jars}, {@code JJAVA_CLASSPATH});
 * registers the renderers, the line magics and the display sink. Uses only the API subset stable
 * from 1.0-a6 to HEAD (no {@code setDisplayId}, no MagicsArgs).
 */
public final class JJavaAdapter implements Extension, KernelAdapter {
  private static final Set<BaseKernel> INSTALLED = Collections.newSetFromMap(new WeakHashMap<>());

  @Override
  public String name() {
    return "jjava";
  }

  @Override
  public boolean installIntoRunningKernel() {
    BaseKernel k = BaseKernel.notebookKernel();
    if (k == null) {
      return false;
    }
    install(k);
    return true;
  }

  @Override
  public void install(BaseKernel kernel) {
    synchronized (INSTALLED) {
      if (!INSTALLED.add(kernel)) {
        return;
      }
    }
    Renderer r = kernel.getRenderer();
    for (Class<?> type : Renderers.TYPES) {
      register(r, type);
    }
    MagicsRegistry m = kernel.getMagicsRegistry();
    SaeLabMagics magics = SaeLabMagics.shared();
    for (String name : SaeLabMagics.NAMES) {
      m.registerLineMagic(
          name, (BaseKernel kk, java.util.List<String> args) -> magics.eval(name, args));
    }
    KernelHost.attach("jjava", new Sink(kernel));
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static void register(Renderer r, Class<?> type) {
    r.createRegistration((Class) type)
        .preferring(MIMEType.TEXT_HTML, MIMEType.IMAGE_PNG, MIMEType.IMAGE_SVG)
        .register(
            (data, ctx) -> {
              Map<String, Object> bundle =
                  Renderers.bundle(data); // once: a plot's bundle encodes its PNG
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

  static DisplayData toDisplayData(Map<String, Object> bundle) {
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

  /** Displays through the kernel's display stream; the id travels as transient data. */
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
