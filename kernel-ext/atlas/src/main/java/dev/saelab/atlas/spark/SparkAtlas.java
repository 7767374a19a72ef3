package dev.saelab.atlas.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * Runs an atlas on Apache Spark: the work units of a {@link UnitJob} become an RDD with one
 * partition per unit, the job itself is broadcast once, each task runs one unit, the partial
 * results of each (layer, head, circuit) table are merged by {@code reduceByKey} with the job's
 * exact merge, and the finished tables are written by Spark's {@code DataFrameWriter}, partitioned
 * by layer, head and circuit, as Parquet (or CSV).
 *
 * <p>The units run in waves of whole tables. A wave is written to a staging folder ({@code
 * _tmp/wave-...} below the output, which readers skip: its name starts with an underscore) by
 * Spark's output committer; then each finished partition gets a {@code _done} marker and is moved
 * into place by one rename. So a partition folder is either absent or complete, a killed run loses
 * at most the wave in flight, and a rerun skips the tables whose {@code _done} is there.
 *
 * <p>A task that fails is retried by Spark (on a cluster: up to {@code spark.task.maxFailures}, 4
 * by default; the tasks of a lost executor are rerun elsewhere). Bad input (a damaged file) stops
 * the job with the unit's own one-line error, unwrapped from Spark's {@code SparkException}.
 */
public final class SparkAtlas {
  /** The Spark application's name. */
  public static final String APP_NAME = "saelab atlas";

  private SparkAtlas() {}

  /**
   * How to run.
   *
   * @param master Spark's master URL: {@code local[*]} (embedded), {@code local[N]}, {@code
   *     spark://HOST:PORT} (a standalone cluster), {@code k8s://...}
   * @param out the output folder (a local path or a Hadoop URI such as {@code hdfs://...})
   * @param format {@code parquet} or {@code csv}
   * @param conf further Spark settings ({@code spark.executor.memory}, ...)
   * @param waveUnits at least this many units per wave (whole tables; 0: twice the parallelism)
   * @param err where progress goes ({@code null}: silent)
   */
  public record Settings(
      String master,
      String out,
      String format,
      Map<String, String> conf,
      int waveUnits,
      PrintStream err) {
    /** Checks the format. */
    public Settings {
      if (!format.equals("parquet") && !format.equals("csv")) {
        throw new IllegalArgumentException("format " + format + ": expected parquet or csv");
      }
      conf = Map.copyOf(conf);
    }

    /** The embedded default: all cores of this machine, Parquet, progress to {@code err}. */
    public static Settings local(String out, PrintStream err) {
      return new Settings("local[*]", out, "parquet", Map.of(), 0, err);
    }
  }

  /**
   * What a run did.
   *
   * @param units the units run
   * @param skippedUnits the units skipped because their tables were already written
   * @param tables the tables written
   * @param rows the rows written
   * @param seconds wall time, Spark's start-up included
   */
  public record Summary(int units, int skippedUnits, int tables, long rows, double seconds) {}

  /** Runs {@code job} with a Spark session of its own (started and stopped here). */
  public static <U extends Serializable, R extends Serializable> Summary run(
      UnitJob<U, R> job, Settings settings) {
    long t0 = System.nanoTime();
    SparkSession spark = session(settings);
    try {
      Summary s = run(spark, job, settings);
      return new Summary(
          s.units(), s.skippedUnits(), s.tables(), s.rows(), (System.nanoTime() - t0) / 1e9);
    } finally {
      spark.stop();
    }
  }

  /** A Spark session for {@code settings}: quiet, no web UI, this jar shipped to the executors. */
  public static SparkSession session(Settings settings) {
    SparkConf conf =
        new SparkConf()
            .setAppName(APP_NAME)
            .setMaster(settings.master())
            .set("spark.ui.enabled", "false")
            .set("spark.ui.showConsoleProgress", "false")
            .set("spark.sql.sources.partitionColumnTypeInference.enabled", "true")
            // one partition per unit: let a task start right away on any free core
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
    } catch (URISyntaxException | SecurityException e) {
      return null;
    }
  }

  /** Runs {@code job} on an existing session. */
  public static <U extends Serializable, R extends Serializable> Summary run(
      SparkSession spark, UnitJob<U, R> job, Settings settings) {
    long t0 = System.nanoTime();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Configuration hadoop = jsc.hadoopConfiguration();
    AtlasOutput output;
    try {
      org.apache.hadoop.fs.Path root = new org.apache.hadoop.fs.Path(settings.out());
      FileSystem fs = root.getFileSystem(hadoop);
      output = new AtlasOutput(fs, fs.makeQualified(root));
      output.clearStaging();
    } catch (IOException e) {
      throw new UncheckedIOException("output " + settings.out() + ": " + e.getMessage(), e);
    }
    Set<TableKey> done = output.doneTables();

    // whole tables per wave: group the units by the set of tables they feed
    Map<List<TableKey>, List<U>> groups = new LinkedHashMap<>();
    int skipped = 0;
    for (U u : job.units()) {
      List<TableKey> t = job.tables(u);
      if (done.containsAll(t)) {
        skipped++;
        continue;
      }
      groups.computeIfAbsent(t, k -> new ArrayList<>()).add(u);
    }
    int parallelism = jsc.defaultParallelism();
    int waveUnits = settings.waveUnits() > 0 ? settings.waveUnits() : 2 * parallelism;
    List<List<U>> waves = new ArrayList<>();
    List<U> wave = new ArrayList<>();
    for (List<U> g : groups.values()) {
      wave.addAll(g);
      if (wave.size() >= waveUnits) {
        waves.add(wave);
        wave = new ArrayList<>();
      }
    }
    if (!wave.isEmpty()) {
      waves.add(wave);
    }
    int total = waves.stream().mapToInt(List::size).sum();
    PrintStream err = settings.err();
    if (err != null) {
      err.printf(
          Locale.ROOT,
          "atlas: %d units in %d waves on %s (parallelism %d)%s%n",
          total,
          waves.size(),
          settings.master(),
          parallelism,
          skipped > 0 ? ", " + skipped + " units skipped: their tables are written" : "");
    }

    Broadcast<UnitJob<U, R>> shared = jsc.broadcast(job);
    UnitProgress progress = new UnitProgress(err, total);
    spark.sparkContext().addSparkListener(progress);
    int tables = 0;
    long rows = 0;
    try {
      for (List<U> w : waves) {
        List<String> names = new ArrayList<>();
        Set<TableKey> keys = new TreeSet<>();
        for (U u : w) {
          names.add(job.describe(u));
          for (TableKey k : job.tables(u)) {
            if (!done.contains(k)) {
              keys.add(k);
            }
          }
        }
        String rddName = "saelab-atlas-units-" + UUID.randomUUID();
        progress.expect(rddName, names);
        Set<TableKey> pending = Set.copyOf(keys);
        JavaRDD<U> units = jsc.parallelize(w, w.size()).setName(rddName);
        JavaPairRDD<TableKey, R> partial =
            units.flatMapToPair(
                u -> {
                  List<Tuple2<TableKey, R>> res = new ArrayList<>();
                  for (Map.Entry<TableKey, R> e : shared.value().run(u).entrySet()) {
                    if (pending.contains(e.getKey())) {
                      res.add(new Tuple2<>(e.getKey(), e.getValue()));
                    }
                  }
                  return res.iterator();
                });
        JavaPairRDD<TableKey, R> merged =
            partial.reduceByKey((a, b) -> shared.value().merge(a, b), Math.max(1, keys.size()));
        JavaRDD<Row> out = merged.flatMap(kv -> shared.value().rows(kv._1, kv._2).iterator());
        String staging = output.newStaging();
        long n;
        try {
          var df = spark.createDataFrame(out, job.schema());
          df.write()
              .mode(SaveMode.ErrorIfExists)
              .partitionBy("layer", "head", "circuit")
              .option("header", "true")
              .format(settings.format())
              .save(staging);
          n = spark.read().format(settings.format()).option("header", "true").load(staging).count();
        } catch (Exception e) { // SparkException is checked, and thrown unchecked by Scala code
          throw SparkErrors.unwrap(e);
        }
        output.commit(staging, keys, w.size());
        tables += keys.size();
        rows += n;
      }
      output.clearStaging();
    } catch (IOException e) {
      throw new UncheckedIOException("output " + settings.out() + ": " + e.getMessage(), e);
    } finally {
      spark.sparkContext().removeSparkListener(progress);
      shared.destroy();
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    if (err != null) {
      err.printf(
          Locale.ROOT,
          "atlas: %d tables, %d rows written to %s in %.1f s%n",
          tables,
          rows,
          settings.out(),
          secs);
    }
    return new Summary(total, skipped, tables, rows, secs);
  }

  /** The distinct tables of a job's units, in order. */
  static <U extends Serializable> Set<TableKey> allTables(UnitJob<U, ?> job) {
    Set<TableKey> all = new LinkedHashSet<>();
    for (U u : job.units()) {
      all.addAll(job.tables(u));
    }
    return all;
  }
}
