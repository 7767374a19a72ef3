package dev.saelab.kernel;

import dev.saelab.api.Notebook;
import dev.saelab.api.NotebookHost;
import dev.saelab.linalg.Progress;
import dev.saelab.render.Renderers;

/**
 * The {@link NotebookHost} of a kernel adapter: renders objects into MIME bundles and sends them to
 * its sink.
 */
public final class KernelHost implements NotebookHost {
  private final String kernel;
  private final DisplaySink sink;

  private KernelHost(String kernel, DisplaySink sink) {
    this.kernel = kernel;
    this.sink = sink;
  }

  /** Attaches a kernel's display sink to the API ({@code sink == null} detaches). */
  public static void attach(String kernel, DisplaySink sink) {
    Notebook.attach(sink == null ? null : new KernelHost(kernel, sink));
  }

  @Override
  public String kernel() {
    return kernel;
  }

  @Override
  public void display(Object o) {
    sink.display(Renderers.bundle(o), Renderers.metadata(o));
  }

  @Override
  public Progress progress() {
    return new ProgressBar(sink);
  }
}
