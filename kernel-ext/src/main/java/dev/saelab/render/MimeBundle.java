package dev.saelab.render;

import java.util.Map;

/**
 * An object that renders itself in a notebook: a map from MIME type ({@code text/html}, {@code
 * image/png} as base64, {@code image/svg+xml}, {@code text/plain}) to content. Kernel-neutral: each
 * kernel adapter turns it into its own display data.
 */
public interface MimeBundle {
  /** The representations of this object, preferred first; always includes {@code text/plain}. */
  Map<String, Object> mimeBundle();

  /**
   * Display metadata by MIME type, sent along with the bundle: e.g. {@code {"image/png": {"width":
   * 720, "height": 420}}} so a 2× PNG is shown at its logical size. Empty by default.
   */
  default Map<String, Object> mimeMetadata() {
    return Map.of();
  }
}
