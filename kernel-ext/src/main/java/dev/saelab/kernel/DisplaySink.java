package dev.saelab.kernel;

import java.util.Map;

/** Where a kernel adapter sends display data: kernel-neutral, MIME bundles in, display ids out. */
public interface DisplaySink {
  /** Shows a bundle in the current cell's output; returns its display id (for {@link #update}). */
  String display(Map<String, Object> bundle);

  /** Replaces the content of an earlier display in place. */
  void update(String displayId, Map<String, Object> bundle);
}
