package dev.saelab.api;

import dev.saelab.linalg.Progress;

/**
 * What a running notebook offers the API, implemented by the kernel layer and attached with {@link
 * Notebook#attach}.
 */
public interface NotebookHost {
  /** The kernel's name: "jjava", "ijava", "rapaio", or a test's. */
  String kernel();

  /** Displays an object (rendered by the kernel layer) in the current cell's output. */
  void display(Object o);

  /** A fresh progress reporter shown in the current cell. */
  Progress progress();
}
