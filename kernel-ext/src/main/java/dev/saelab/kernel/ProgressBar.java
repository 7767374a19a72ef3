package dev.saelab.kernel;

import dev.saelab.linalg.Progress;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * An HTML progress bar shown once and updated in place through its display id, at most five times a
 * second.
 */
public final class ProgressBar implements Progress {
  private static final long MIN_INTERVAL_NANOS = 200_000_000L;
  private final DisplaySink sink;
  private String id;
  private long last;

  /** A bar that displays into {@code sink} at the first update. */
  public ProgressBar(DisplaySink sink) {
    this.sink = sink;
  }

  @Override
  public void update(String stage, long done, long total) {
    long now = System.nanoTime();
    boolean finished = done >= total;
    if (id != null && !finished && now - last < MIN_INTERVAL_NANOS) {
      return;
    }
    last = now;
    Map<String, Object> b = bundle(stage, done, total);
    if (id == null) {
      id = sink.display(b);
    } else {
      sink.update(id, b);
    }
  }

  /** The bar's MIME bundle (HTML {@code <progress>} and a text line). */
  static Map<String, Object> bundle(String stage, long done, long total) {
    double pct = 100.0 * done / Math.max(1, total);
    Map<String, Object> m = new LinkedHashMap<>();
    String text = String.format(Locale.ROOT, "%s %.0f%% (%d/%d tiles)", stage, pct, done, total);
    m.put(
        "text/html",
        String.format(
            Locale.ROOT,
            "<div style=\"font-family:monospace;font-size:12px\"><progress value=\"%d\" max=\"%d\" "
                + "style=\"width:320px\"></progress> %s</div>",
            done,
            Math.max(1, total),
            dev.saelab.render.HtmlTables.escape(text)));
    m.put("text/plain", text);
    return m;
  }
}
