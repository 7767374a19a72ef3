package dev.saelab.atlas.spark;

import java.io.Serializable;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;

/**
 * What {@link SparkAtlas} distributes: a list of work units, the function that runs one unit on an
 * executor, an associative merge of partial results per table, and the rows a merged table writes.
 * The object is broadcast once to every executor, so it carries the settings (file paths, top K,
 * ...) and opens its inputs lazily on the executor that runs a unit.
 *
 * <p>The merge must be exact and associative (and commutative): the engine folds partial results in
 * whatever order the tasks finish, over a tree, and retried tasks replace failed ones, so the
 * merged table must not depend on the order.
 *
 * @param <U> a work unit
 * @param <R> a partial result of one table
 */
public interface UnitJob<U extends Serializable, R extends Serializable> extends Serializable {

  /** Every work unit of the atlas, in a stable order (the order of the progress lines). */
  List<U> units();

  /** The tables a unit contributes to (each table's units together make the whole table). */
  List<TableKey> tables(U unit);

  /**
   * A short description of a unit for the progress lines, for instance "L3 H0-3 qk rows 0-4095".
   */
  String describe(U unit);

  /**
   * Runs one unit on an executor: its partial result for each of its tables. Bad input throws
   * {@link IllegalArgumentException} or {@code SaeLabException} with one line naming the file.
   */
  Map<TableKey, R> run(U unit);

  /** Merges two partial results of one table (exact, associative, commutative). */
  R merge(R a, R b);

  /**
   * The rows of a finished table, in the order of {@link #schema()} (with layer, head, circuit).
   */
  List<Row> rows(TableKey table, R merged);

  /** The columns of the rows, including the partition columns {@code layer, head, circuit}. */
  StructType schema();
}
