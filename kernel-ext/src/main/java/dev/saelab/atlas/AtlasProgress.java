package dev.saelab.atlas;

/** What an atlas run reports: each finished unit, and one-line messages (warnings, notes). */
public interface AtlasProgress {
  /**
   * A unit finished (or was found finished by an earlier run).
   *
   * @param id the unit's id
   * @param done units finished so far in this run, counting those skipped
   * @param total units this run covers
   */
  void unit(String id, long done, long total);

  /** A one-line message: a warning or a note. */
  void message(String line);

  /** Reports nothing. */
  AtlasProgress NONE =
      new AtlasProgress() {
        @Override
        public void unit(String id, long done, long total) {}

        @Override
        public void message(String line) {}
      };
}
