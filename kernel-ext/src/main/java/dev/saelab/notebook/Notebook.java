package dev.saelab.notebook;

import dev.saelab.circuits.Progress;
import dev.saelab.render.Renderers;

/**
 * The notebook the library is running in, if any: the kernel adapter installs a {@link DisplaySink} here. Domain
 * code asks this class for a progress reporter and never sees a kernel class.
 */
public final class Notebook {
  private static volatile DisplaySink sink;
  private static volatile String kernel = "none";

  private Notebook() {}

  /** Called by a kernel adapter. */
  public static void attach(String kernelName, DisplaySink s) {
    kernel = kernelName;
    sink = s;
  }

  /** The kernel adapter in use ("jjava", "ijava", "rapaio") or "none". */
  public static String kernel() {
    return kernel;
  }

  /** The display sink, or null outside a notebook. */
  public static DisplaySink sink() {
    return sink;
  }

  /** Displays an object now (a table, a plot); a no-op outside a notebook. */
  public static void display(Object o) {
    DisplaySink s = sink;
    if (s != null) {
      s.display(Renderers.bundle(o), Renderers.metadata(o));
    }
  }

  /** A progress reporter: an in-place progress bar in a notebook, nothing elsewhere. */
  public static Progress progress() {
    DisplaySink s = sink;
    return s == null ? Progress.NONE : new ProgressBar(s);
  }
}
