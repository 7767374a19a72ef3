package dev.saelab.kernel;

import java.util.Map;

/** Where a kernel adapter sends display data: kernel-neutral, MIME bundles in, display ids out. */
public interface DisplaySink {
  /** Shows a bundle in the current cell's output; returns its display id (for {@link #update}). */
  String display(Map<String, Object> bundle);

  /**
   * Shows a bundle with its display metadata by MIME type (e.g. a plot's PNG display size); a sink
   * that cannot pass metadata shows the bundle alone.
   */
  default String display(Map<String, Object> bundle, Map<String, Object> metadata) {
    return display(bundle);
  }

  /** Replaces the content of an earlier display in place. */
  void update(String displayId, Map<String, Object> bundle);
}
