package dev.saelab.atlas.spark;

import dev.saelab.atlas.AtlasRows;
import java.io.Serializable;
import java.util.List;

/**
 * What {@link SparkAtlas} distributes: work units, the function that runs one unit on an executor,
 * an associative merge of the partial results of one output partition, and the rows a merged
 * partition writes ({@link AtlasRows}: one or more datasets, e.g. {@code table} and {@code
 * partners}). The object is broadcast once to every executor, so it carries the settings (file
 * paths, top K, ...) and opens its inputs on the executor that runs a unit.
 *
 * <p>The merge must be exact, associative and commutative: the engine folds partial results in
 * whatever order the tasks finish, and a retried task replaces a failed one, so the merged
 * partition must not depend on the order.
 *
 * @param <U> a work unit
 * @param <R> a partial result of one partition
 */
public interface UnitJob<U extends Serializable, R extends Serializable> extends Serializable {

  /** Every work unit, in a stable order (driver side only). */
  List<U> units();

  /** The output partition a unit contributes to (each partition's units make it whole). */
  String key(U unit);

  /**
   * The unit's kind: units of one kind give rows of the same columns (e.g. {@code TABLE-qk}). The
   * first wave runs a partition of every kind, which fixes each dataset's columns.
   */
  default String kind(U unit) {
    return "";
  }

  /** A unit's id, for progress lines, e.g. {@code L3-H0-qk-r0-4096}. */
  String id(U unit);

  /**
   * Runs one unit on an executor. Bad input throws {@link IllegalArgumentException} or {@code
   * SaeLabException} with one line naming the file.
   */
  R run(U unit);

  /** Merges two partial results of one partition (exact, associative, commutative). */
  R merge(R a, R b);

  /** The rows of a merged partition, per dataset. */
  List<AtlasRows> rows(String key, R merged);
}
