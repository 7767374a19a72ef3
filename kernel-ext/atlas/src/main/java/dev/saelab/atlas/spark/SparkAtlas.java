package dev.saelab.atlas.spark;

import dev.saelab.atlas.AtlasProgress;
import dev.saelab.atlas.AtlasRows;
import dev.saelab.atlas.AtlasWriter;
import java.io.Serializable;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * Runs an atlas on Apache Spark: the work units of a {@link UnitJob} become an RDD with one
 * partition per unit, the job itself is broadcast once, each task runs one unit, the partial
 * results of each output partition (one layer, head and circuit) are merged by {@code reduceByKey}
 * with the job's exact merge, and the merged partitions' rows ({@link AtlasRows}) are written by
 * Spark's {@code DataFrameWriter}, partitioned as the rows say ({@code layer, head, circuit}), as
 * Parquet; or as CSV files, exactly as the in-process engine writes them.
 *
 * <p>The units run in waves of whole partitions. A wave is written to a staging folder ({@code
 * _tmp/wave-...}, which readers skip) and its partitions are then moved into place and marked
 * ({@link AtlasOutput}): a partition folder is either absent or complete, a killed run loses at
 * most the wave in flight, and a rerun skips the finished partitions.
 *
 * <p>A task that fails is retried by Spark (on a cluster up to {@code spark.task.maxFailures}, 4 by
 * default; the tasks of a lost executor are rerun elsewhere, which does not count as a failure). A
 * unit's bad input (a damaged file) stops the job with the unit's own one-line error, unwrapped
 * from Spark's {@code SparkException}.
 *
 * <p>TODO(pruning across tasks): the core has no per-block norm bound yet; when it has, run a wave
 * in two steps: the blocks with the highest bounds first, then broadcast each partition's k-th
 * value as a threshold to the rest, which may skip a block whose bound is below it.
 */
public final class SparkAtlas {
  /** The Spark application's name. */
  public static final String APP_NAME = "saelab atlas";

  /** The wall time a wave of small units grows to (seconds), unless a wave size is given. */
  static final double WAVE_SECONDS = 30;

  private SparkAtlas() {}

  /**
   * How to run.
   *
   * @param master Spark's master URL: {@code local[*]} (embedded), {@code local[N]}, {@code
   *     spark://HOST:PORT} (a standalone cluster), {@code k8s://...}
   * @param out the output folder (the same path on the driver and every executor)
   * @param format {@code parquet} or {@code csv}
   * @param conf further Spark settings ({@code spark.executor.memory}, ...)
   * @param waveUnits this many units per wave, in whole partitions (0: at least four per core,
   *     grown while units are short until a wave takes about 30 s)
   */
  public record Settings(
      String master, Path out, String format, Map<String, String> conf, int waveUnits) {
    /** Checks the format. */
    public Settings {
      if (!format.equals("parquet") && !format.equals("csv")) {
        throw new IllegalArgumentException("format " + format + ": expected parquet or csv");
      }
      conf = Map.copyOf(conf);
    }
  }

  /**
   * What a run did.
   *
   * @param units units of the job
   * @param skipped units whose partitions an earlier run finished
   * @param computed units computed by this run
   * @param partitions partitions written by this run
   * @param seconds wall time of the run (the session's start not included)
   */
  public record Summary(long units, long skipped, long computed, int partitions, double seconds) {}

  /** A Spark session for {@code settings}: quiet, no web UI, this jar shipped to the executors. */
  public static SparkSession session(Settings settings) {
    SparkConf conf =
        new SparkConf()
            .setAppName(APP_NAME)
            .setMaster(settings.master())
            .set("spark.ui.enabled", "false")
            .set("spark.ui.showConsoleProgress", "false")
            // one partition per unit: start a task at once on any free core
            .set("spark.locality.wait", "0s")
            .set("spark.sql.parquet.compression.codec", "zstd");
    if (settings.master().startsWith("local")) {
      conf.set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1");
    }
    String jar = runningJar();
    if (jar != null && !settings.master().startsWith("local")) {
      conf.set("spark.jars", jar);
    }
    settings.conf().forEach(conf::set);
    return SparkSession.builder().config(conf).getOrCreate();
  }

  /** The jar this class was loaded from, or {@code null} (classes in a folder, as in tests). */
  static String runningJar() {
    try {
      var src = SparkAtlas.class.getProtectionDomain().getCodeSource();
      if (src == null) {
        return null;
      }
      Path p = Path.of(src.getLocation().toURI());
      return Files.isRegularFile(p) && p.toString().endsWith(".jar") ? p.toString() : null;
    } catch (URISyntaxException | SecurityException | IllegalArgumentException e) {
      return null;
    }
  }

  /** The signature of a dataset's rows: the Parquet files of one signature share one schema. */
  record Signature(String table, List<String> columns, List<AtlasRows.Type> types, List<String> by)
      implements Serializable {
    static Signature of(AtlasRows r) {
      return new Signature(r.table(), r.columns(), r.types(), r.partitionColumns());
    }
  }

  /**
   * The columns of one dataset: the union of its rows' columns (QK and OV name their feature
   * columns differently), in order of appearance. Every file of the dataset is written with all of
   * them (null where a row has no such column), so that every reader, pyarrow's included, sees one
   * schema.
   */
  static final class Schema implements Serializable {
    private static final long serialVersionUID = 1L;
    final LinkedHashMap<String, DataType> types = new LinkedHashMap<>();

    void add(Signature sig) {
      for (int i = 0; i < sig.columns().size(); i++) {
        DataType t = sparkType(sig.types().get(i));
        DataType old = types.putIfAbsent(sig.columns().get(i), t);
        if (old != null && !old.equals(t)) {
          throw new IllegalStateException(
              sig.table() + ": column " + sig.columns().get(i) + " is " + old + " and " + t);
        }
      }
    }

    StructType struct() {
      StructType s = new StructType();
      for (Map.Entry<String, DataType> e : types.entrySet()) {
        s = s.add(e.getKey(), e.getValue(), true);
      }
      return s;
    }

    /** {@code r}'s rows with the columns {@code cols}, null where it has none. */
    static List<Row> widen(AtlasRows r, List<String> cols) {
      int[] at = new int[cols.size()];
      for (int c = 0; c < at.length; c++) {
        at[c] = r.columns().indexOf(cols.get(c));
      }
      List<Row> out = new ArrayList<>(r.rows().size());
      for (Object[] v : r.rows()) {
        Object[] w = new Object[at.length];
        for (int c = 0; c < at.length; c++) {
          w[c] = at[c] < 0 ? null : v[at[c]];
        }
        out.add(RowFactory.create(w));
      }
      return out;
    }
  }

  /** The columns of the datasets an earlier run wrote (a rerun writes the same). */
  static Map<String, Schema> existingSchemas(SparkSession spark, Settings settings) {
    Map<String, Schema> out = new LinkedHashMap<>();
    if (!settings.format().equals("parquet")) {
      return out;
    }
    try (var dirs = Files.list(settings.out())) {
      for (Path d : dirs.filter(Files::isDirectory).toList()) {
        String name = d.getFileName().toString();
        if (name.startsWith("_") || name.startsWith(".")) {
          continue;
        }
        boolean hasData;
        try (var files = Files.walk(d)) {
          hasData = files.anyMatch(f -> f.toString().endsWith(".parquet"));
        }
        if (hasData) {
          Schema sc = new Schema();
          for (var f :
              spark.read().option("mergeSchema", "true").parquet(d.toString()).schema().fields()) {
            sc.types.put(f.name(), f.dataType());
          }
          out.put(name, sc);
        }
      }
    } catch (java.nio.file.NoSuchFileException e) {
      return out;
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return out;
  }

  /** One merged partition's dataset, as the driver needs it to commit. */
  record Written(String key, String dir, Signature signature, int rows) implements Serializable {}

  static DataType sparkType(AtlasRows.Type t) {
    return switch (t) {
      case INT -> DataTypes.IntegerType;
      case FLOAT -> DataTypes.FloatType;
      case DOUBLE -> DataTypes.DoubleType;
      case STRING -> DataTypes.StringType;
      case BOOLEAN -> DataTypes.BooleanType;
    };
  }

  /** Runs {@code job} on {@code spark}, reporting units to {@code progress}. */
  public static <U extends Serializable, R extends Serializable> Summary run(
      SparkSession spark, UnitJob<U, R> job, Settings settings, AtlasProgress progress) {
    long t0 = System.nanoTime();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    AtlasOutput output = new AtlasOutput(settings.out());
    output.clearStaging();
    Set<String> committed = output.committed();

    List<U> all = job.units();
    Map<String, List<U>> byKey = new LinkedHashMap<>();
    long done = 0;
    for (U u : all) {
      String k = job.key(u);
      if (committed.contains(k)) {
        progress.unit(job.id(u), ++done, all.size());
      } else {
        byKey.computeIfAbsent(k, x -> new ArrayList<>()).add(u);
      }
    }
    long skipped = done;
    int parallelism = jsc.defaultParallelism();
    progress.message(
        String.format(
            Locale.ROOT,
            "atlas on Spark %s (%s, parallelism %d): %d units%s",
            spark.version(),
            settings.master(),
            parallelism,
            all.size() - skipped,
            skipped > 0 ? ", " + skipped + " finished earlier" : ""));

    Broadcast<UnitJob<U, R>> shared = jsc.broadcast(job);
    UnitProgress listener = new UnitProgress(progress, done, all.size());
    spark.sparkContext().addSparkListener(listener);
    int partitions = 0;
    try {
      // waves of whole partitions: a fixed size when asked; else at least 4 units per core, and
      // grown until a wave computes for about WAVE_SECONDS (a wave's writing and commit cost about
      // a second, whatever its size), so small units do not pay that second each few units
      int minUnits = settings.waveUnits() > 0 ? settings.waveUnits() : 4 * parallelism;
      int waveUnits = minUnits;
      // the first wave holds a partition of every kind, so that it fixes each dataset's columns
      List<List<U>> groups = new ArrayList<>();
      Set<String> kinds = new java.util.HashSet<>();
      List<List<U>> rest = new ArrayList<>();
      for (List<U> grp : byKey.values()) {
        (kinds.add(job.kind(grp.get(0))) ? groups : rest).add(grp);
      }
      groups.addAll(rest);
      Map<String, Schema> schemas = existingSchemas(spark, settings);
      int g = 0;
      while (g < groups.size()) {
        List<U> w = new ArrayList<>();
        while (g < groups.size() && w.size() < waveUnits) {
          w.addAll(groups.get(g++));
        }
        long t = System.nanoTime();
        partitions += runWave(spark, jsc, shared, job, w, settings, output, listener, schemas);
        double secs = (System.nanoTime() - t) / 1e9;
        if (settings.waveUnits() <= 0) {
          double perUnit = secs / w.size();
          waveUnits =
              (int) Math.min(100_000, Math.max(minUnits, Math.ceil(WAVE_SECONDS / perUnit)));
        }
      }
      output.clearStaging();
    } finally {
      spark.sparkContext().removeSparkListener(listener);
      shared.destroy();
    }
    return new Summary(
        all.size(), skipped, all.size() - skipped, partitions, (System.nanoTime() - t0) / 1e9);
  }

  private static <U extends Serializable, R extends Serializable> int runWave(
      SparkSession spark,
      JavaSparkContext jsc,
      Broadcast<UnitJob<U, R>> shared,
      UnitJob<U, R> job,
      List<U> w,
      Settings settings,
      AtlasOutput output,
      UnitProgress listener,
      Map<String, Schema> schemas) {
    List<String> ids = new ArrayList<>();
    Set<String> keys = new java.util.LinkedHashSet<>();
    for (U u : w) {
      ids.add(job.id(u));
      keys.add(job.key(u));
    }
    String rddName = "saelab-atlas-units-" + UUID.randomUUID();
    listener.expect(rddName, ids);
    Path staging = output.newStaging();
    String stagingDir = staging.toString();
    String format = settings.format();
    JavaPairRDD<String, AtlasRows> rows = null;
    try {
      JavaRDD<U> units = jsc.parallelize(w, w.size()).setName(rddName);
      JavaPairRDD<String, R> partial =
          units.mapToPair(u -> new Tuple2<>(shared.value().key(u), shared.value().run(u)));
      JavaPairRDD<String, R> merged =
          partial.reduceByKey((a, b) -> shared.value().merge(a, b), keys.size());
      rows =
          merged.flatMapToPair(
              kv -> {
                List<Tuple2<String, AtlasRows>> out = new ArrayList<>();
                for (AtlasRows r : shared.value().rows(kv._1, kv._2)) {
                  out.add(new Tuple2<>(kv._1, r));
                }
                return out.iterator();
              });
      List<Written> written;
      if (format.equals("csv")) {
        // the in-process engine's own CSV writer, on the executors, into staging
        written =
            rows.map(
                    t -> {
                      AtlasWriter.writeCsv(Path.of(stagingDir), t._2);
                      return new Written(t._1, t._2.dir(), Signature.of(t._2), t._2.rows().size());
                    })
                .collect();
      } else {
        rows = rows.persist(StorageLevel.MEMORY_AND_DISK());
        written =
            rows.map(t -> new Written(t._1, t._2.dir(), Signature.of(t._2), t._2.rows().size()))
                .collect();
        Map<String, List<String>> by = new LinkedHashMap<>();
        for (Written x : written) {
          Signature sig = x.signature();
          schemas.computeIfAbsent(sig.table(), t -> new Schema()).add(sig);
          by.put(sig.table(), sig.by());
        }
        for (Map.Entry<String, List<String>> t : by.entrySet()) {
          String table = t.getKey();
          Schema schema = schemas.get(table);
          List<String> cols = List.copyOf(schema.types.keySet());
          JavaRDD<Row> data =
              rows.values()
                  .filter(r -> r.table().equals(table))
                  .flatMap(r -> Schema.widen(r, cols).iterator());
          spark
              .createDataFrame(data, schema.struct())
              .write()
              .mode(SaveMode.Append)
              .partitionBy(t.getValue().toArray(new String[0]))
              .parquet(staging.resolve(table).toString());
        }
      }
      Map<String, List<String>> dirs = new TreeMap<>();
      for (String k : keys) {
        dirs.put(k, new ArrayList<>());
      }
      for (Written x : written) {
        dirs.get(x.key()).add(x.dir());
      }
      for (Map.Entry<String, List<String>> e : dirs.entrySet()) {
        output.commit(staging, e.getKey(), e.getValue());
      }
      AtlasOutput.deleteTree(staging);
      return keys.size();
    } catch (Exception e) { // SparkException is checked, and thrown unchecked by Scala code
      throw SparkErrors.unwrap(e);
    } finally {
      if (rows != null) {
        rows.unpersist(false);
      }
    }
  }
}
