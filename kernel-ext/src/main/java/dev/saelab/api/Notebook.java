package dev.saelab.api;

import dev.saelab.linalg.Progress;

/**
 * The notebook the library is running in, if any. The kernel layer attaches a {@link NotebookHost}
 * here when a kernel adapter installs; the API asks this class for progress reporters and displays,
 * and never sees a kernel class.
 */
public final class Notebook {
  private static volatile NotebookHost host;

  private Notebook() {}

  /** Called by the kernel layer when an adapter installs; {@code null} detaches. */
  public static void attach(NotebookHost h) {
    host = h;
  }

  /** The kernel adapter in use ("jjava", "ijava", "rapaio") or "none". */
  public static String kernel() {
    NotebookHost h = host;
    return h == null ? "none" : h.kernel();
  }

  /** Displays an object now (a table, a plot); a no-op outside a notebook. */
  public static void display(Object o) {
    NotebookHost h = host;
    if (h != null) {
      h.display(o);
    }
  }

  /** A progress reporter: an in-place progress bar in a notebook, nothing elsewhere. */
  public static Progress progress() {
    NotebookHost h = host;
    return h == null ? Progress.NONE : h.progress();
  }
}
