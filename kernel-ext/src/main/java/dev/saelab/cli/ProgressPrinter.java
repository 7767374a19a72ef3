package dev.saelab.cli;

import dev.saelab.linalg.Progress;
import java.io.PrintStream;
import java.util.Locale;

/** Prints progress to stderr at most every half second; {@code null} stream: silent. */
final class ProgressPrinter implements Progress {
  private final PrintStream err;
  private final String what;
  private long last;

  ProgressPrinter(PrintStream err) {
    this(err, "tiles");
  }

  /** Progress counted in {@code what} (e.g. {@code units}). */
  ProgressPrinter(PrintStream err, String what) {
    this.err = err;
    this.what = what;
  }

  @Override
  public void update(String stage, long done, long total) {
    long now = System.nanoTime();
    if (err != null && (now - last > 500_000_000L || done == total)) {
      last = now;
      err.printf(
          Locale.ROOT,
          "\r%-14s %5.1f%% (%d/%d %s)",
          stage,
          100.0 * done / Math.max(1, total),
          done,
          total,
          what);
    }
  }

  void finish(String msg) {
    if (err != null) {
      err.println();
      err.println(msg);
    }
  }
}
