package dev.saelab.atlas;

import java.nio.file.Path;

/**
 * How and where to run an atlas.
 *
 * @param out the atlas folder
 * @param format {@code csv} or {@code parquet}
 * @param master a cluster engine's master URL, or null for none
 * @param shard this machine's shard, 0-based ({@code shard < shards})
 * @param shards machines sharing the plan (1: everything here)
 * @param threads units computed at once in this JVM (the local engine)
 */
public record AtlasRun(Path out, String format, String master, int shard, int shards, int threads) {
  /** Checks the ranges. */
  public AtlasRun {
    if (out == null) {
      throw new IllegalArgumentException("atlas: expected an output folder");
    }
    if (shards < 1 || shard < 0 || shard >= shards) {
      throw new IllegalArgumentException(
          "shard " + shard + "/" + shards + ": expected 0 ≤ i < n (shard i of n machines)");
    }
    if (threads < 1) {
      throw new IllegalArgumentException("threads " + threads + ": expected at least 1");
    }
  }

  /** Everything in this JVM, as CSV, one unit at a time. */
  public static AtlasRun local(Path out) {
    return new AtlasRun(out, "csv", null, 0, 1, 1);
  }

  /** Whether this run covers a part of the plan only. */
  public boolean sharded() {
    return shards > 1;
  }

  /**
   * What a run did.
   *
   * @param units units this run covers
   * @param skipped units finished by an earlier run, not recomputed
   * @param computed units computed by this run
   * @param merged whether the partitions were written (a whole, finished plan)
   */
  public record Summary(long units, long skipped, long computed, boolean merged) {}
}
