package dev.saelab.atlas.spark;

import dev.saelab.io.SaeLabException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The output folder of an atlas on Spark: the finished partitions ({@code
 * table/layer=L/head=H/circuit=C/}, ...), a marker per finished output partition key in {@code
 * _committed/}, and {@code _tmp/} where each wave is written first. The folder must be visible to
 * the driver and every executor under the same path (a local folder in local mode; a shared file
 * system on a cluster).
 *
 * <p>A wave's partitions are moved from staging into place, each by one rename, and then the key's
 * marker is written: a reader never sees a half-written partition folder, a killed run loses at
 * most the wave in flight, and a rerun skips the keys whose marker is there. Readers skip {@code
 * _tmp} and {@code _committed} (names that start with an underscore are hidden to Spark, pyarrow
 * and pandas; DuckDB reads {@code *.parquet} globs under the dataset folders).
 */
final class AtlasOutput {
  /** The markers of finished partition keys. */
  static final String COMMITTED = "_committed";

  /** The staging folder below the output. */
  static final String STAGING = "_tmp";

  private final Path root;

  AtlasOutput(Path root) {
    this.root = root;
  }

  /** The folder. */
  Path root() {
    return root;
  }

  /** The partition keys finished by earlier runs. */
  Set<String> committed() {
    Set<String> done = new HashSet<>();
    Path d = root.resolve(COMMITTED);
    if (Files.isDirectory(d)) {
      try (Stream<Path> s = Files.list(d)) {
        s.forEach(p -> done.add(p.getFileName().toString()));
      } catch (IOException e) {
        throw SaeLabException.inFile(d, "cannot list: " + e.getMessage());
      }
    }
    return done;
  }

  /** Removes what an interrupted run left in staging. */
  void clearStaging() {
    deleteTree(root.resolve(STAGING));
  }

  /** A fresh staging folder for one wave (not created). */
  Path newStaging() {
    return root.resolve(STAGING).resolve("wave-" + UUID.randomUUID());
  }

  /**
   * Moves the partition folders {@code dirs} (relative, e.g. {@code
   * table/layer=1/head=3/circuit=qk}) of one key from {@code staging} into place, replacing what an
   * unfinished earlier run left there, then writes the key's marker. A folder absent from staging
   * (a partition with no rows) is skipped.
   */
  void commit(Path staging, String key, Collection<String> dirs) {
    try {
      for (String rel : dirs) {
        Path from = staging.resolve(rel);
        if (!Files.exists(from)) {
          continue;
        }
        Path to = root.resolve(rel);
        deleteTree(to);
        Files.createDirectories(to.getParent());
        try {
          Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
          Files.move(from, to);
        }
      }
      Path marker = root.resolve(COMMITTED).resolve(key);
      Files.createDirectories(marker.getParent());
      Path tmp = marker.resolveSibling("." + key + ".tmp");
      Files.writeString(tmp, String.join("\n", dirs) + "\n", StandardCharsets.UTF_8);
      Files.move(tmp, marker, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw SaeLabException.inFile(root, "cannot commit partition " + key + ": " + e.getMessage());
    }
  }

  /** Deletes a folder and everything in it, if it exists. */
  static void deleteTree(Path p) {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(q);
      }
    } catch (IOException e) {
      throw SaeLabException.inFile(p, "cannot delete: " + e.getMessage());
    }
  }
}
