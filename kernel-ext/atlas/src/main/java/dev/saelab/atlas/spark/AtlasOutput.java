package dev.saelab.atlas.spark;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The output folder of an atlas: finished partitions {@code layer=L/head=H/circuit=c/} (data files
 * and a {@code _done} marker), and a staging folder {@code _tmp/} where each wave is written first.
 * Through Hadoop's file system API, so the folder may be local or on HDFS.
 *
 * <p>A partition is moved from staging into place by one rename, with its {@code _done} already
 * inside: a reader (and a rerun) never sees a half-written partition. Readers skip {@code _tmp} and
 * {@code _done} (names that start with an underscore are hidden to Spark, pyarrow and pandas;
 * DuckDB reads {@code *.parquet} globs).
 */
final class AtlasOutput {
  /** The marker of a finished partition. */
  static final String DONE = "_done";

  /** The staging folder below the output. */
  static final String STAGING = "_tmp";

  private static final Pattern PARTITION =
      Pattern.compile(".*/layer=(\\d+)/head=(\\d+)/circuit=([a-z]+)/" + DONE + "$");

  private final FileSystem fs;
  private final Path root;

  AtlasOutput(FileSystem fs, Path root) {
    this.fs = fs;
    this.root = root;
  }

  /** The tables whose partition is finished. */
  Set<TableKey> doneTables() {
    Set<TableKey> done = new HashSet<>();
    try {
      FileStatus[] found = fs.globStatus(new Path(root, "layer=*/head=*/circuit=*/" + DONE));
      if (found != null) {
        for (FileStatus f : found) {
          Matcher m = PARTITION.matcher(f.getPath().toUri().getPath());
          if (m.matches()) {
            done.add(
                new TableKey(
                    Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), m.group(3)));
          }
        }
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("output " + root + ": " + e.getMessage(), e);
    }
    return done;
  }

  /** Removes what an interrupted run left in staging. */
  void clearStaging() throws IOException {
    Path s = new Path(root, STAGING);
    if (fs.exists(s)) {
      fs.delete(s, true);
    }
  }

  /** A fresh staging folder for one wave (not created: Spark's writer creates it). */
  String newStaging() {
    return new Path(new Path(root, STAGING), "wave-" + UUID.randomUUID()).toString();
  }

  /**
   * Moves the wave's finished partitions into place: each gets its {@code _done} (in staging) and
   * is then renamed into the output. A table with no rows still gets its folder and marker.
   */
  void commit(String staging, Collection<TableKey> tables, int units) throws IOException {
    Path stage = new Path(staging);
    for (TableKey k : tables) {
      Path from = new Path(stage, k.partitionPath());
      Path to = new Path(root, k.partitionPath());
      fs.mkdirs(from);
      try (OutputStream o = fs.create(new Path(from, DONE), true)) {
        o.write(
            ("{\"table\":\"" + k + "\",\"wave_units\":" + units + "}\n")
                .getBytes(StandardCharsets.UTF_8));
      }
      if (fs.exists(to)) {
        // a partition without its marker can only be left by something else than this writer
        fs.delete(to, true);
      }
      fs.mkdirs(to.getParent());
      if (!fs.rename(from, to)) {
        throw new IOException("could not move " + from + " to " + to);
      }
    }
    fs.delete(stage, true);
  }
}
