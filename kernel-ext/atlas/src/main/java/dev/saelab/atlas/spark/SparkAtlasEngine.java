package dev.saelab.atlas.spark;

import dev.saelab.atlas.AtlasEngine;
import dev.saelab.atlas.AtlasInputs;
import dev.saelab.atlas.AtlasPlan;
import dev.saelab.atlas.AtlasProgress;
import dev.saelab.atlas.AtlasRun;
import dev.saelab.atlas.AtlasSpec;
import dev.saelab.atlas.AtlasWriter;
import dev.saelab.atlas.UnitRunner;
import dev.saelab.atlas.WorkUnit;
import dev.saelab.io.SaeLabException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * The atlas engine of {@code saelab-atlas.jar}, found by {@code saelab atlas} through {@link
 * java.util.ServiceLoader}: runs the plan on Apache Spark ({@link SparkAtlas}), embedded ({@code
 * local[*]}, the default) or on a cluster ({@code --master spark://HOST:PORT}), and writes Parquet
 * (or {@code --format csv}: the in-process engine's CSV files) in the same folders, {@code
 * table/layer=L/head=H/circuit=C/} and so on.
 *
 * <p>A sharded run ({@code --shard i/N}) computes its units on Spark and saves each as the
 * in-process engine does ({@code _units/}), for {@code saelab atlas-merge}.
 *
 * <p>Further Spark settings come from Java system properties {@code spark.*} (for instance {@code
 * -Dspark.executor.memory=8g}), as Spark reads them.
 */
public final class SparkAtlasEngine implements AtlasEngine {
  @Override
  public String name() {
    return "spark";
  }

  @Override
  public boolean supports(String format) {
    return "parquet".equals(format) || "csv".equals(format);
  }

  @Override
  public boolean supportsMaster() {
    return true;
  }

  @Override
  public AtlasRun.Summary run(AtlasSpec spec, AtlasRun run, AtlasProgress progress) {
    AtlasPlan plan = AtlasPlan.open(spec, progress::message);
    String master = run.master() != null ? run.master() : "local[*]";
    SparkSession spark =
        SparkAtlas.session(new SparkAtlas.Settings(master, run.out(), run.format(), Map.of(), 0));
    try {
      return runOn(spark, plan, run, progress);
    } finally {
      spark.stop();
    }
  }

  /** Runs {@code plan} as {@code run} says on an existing Spark session (its master). */
  public static AtlasRun.Summary runOn(
      SparkSession spark, AtlasPlan plan, AtlasRun run, AtlasProgress progress) {
    AtlasSpec spec = plan.spec();
    Path out = run.out().toAbsolutePath();
    AtlasWriter.open(out, spec); // records the spec; a rerun must ask for the same
    if (spec.labels() != null) {
      for (AtlasInputs.LayerShape s : plan.shape().layers()) {
        AtlasInputs.labels(spec, s, progress::message); // warnings once, on the driver
      }
    }
    List<WorkUnit> units = run.sharded() ? plan.shard(run.shard(), run.shards()) : plan.units();
    if (run.sharded()) {
      return shard(spark, spec, units, out, progress);
    }
    SparkAtlas.Settings settings =
        new SparkAtlas.Settings(spark.sparkContext().master(), out, run.format(), Map.of(), 0);
    SparkAtlas.Summary s = SparkAtlas.run(spark, new CoreAtlasJob(plan, units), settings, progress);
    try {
      Files.writeString(out.resolve("_SUCCESS"), "", StandardCharsets.UTF_8);
    } catch (java.io.IOException e) {
      throw SaeLabException.inFile(out, "cannot write _SUCCESS: " + e.getMessage());
    }
    return new AtlasRun.Summary(s.units(), s.skipped(), s.computed(), true);
  }

  /** Deletes a folder and everything in it, if it exists. */
  public static void deleteTree(Path p) {
    AtlasOutput.deleteTree(p);
  }

  /** A shard's units computed on Spark and saved for {@code atlas-merge}. */
  private static AtlasRun.Summary shard(
      SparkSession spark, AtlasSpec spec, List<WorkUnit> units, Path out, AtlasProgress progress) {
    AtlasWriter w = AtlasWriter.open(out, spec);
    List<WorkUnit> todo = new ArrayList<>();
    long done = 0;
    for (WorkUnit u : units) {
      if (w.isDone(u)) {
        progress.unit(u.id(), ++done, units.size());
      } else {
        todo.add(u);
      }
    }
    long skipped = done;
    if (!todo.isEmpty()) {
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      String dir = out.toString();
      try {
        List<String> ids =
            jsc.parallelize(todo, todo.size())
                .map(
                    u -> {
                      AtlasWriter.open(Path.of(dir), spec).save(UnitRunner.run(spec, u));
                      return u.id();
                    })
                .collect();
        for (String id : ids) {
          progress.unit(id, ++done, units.size());
        }
      } catch (Exception e) { // SparkException is checked, and thrown unchecked by Scala code
        throw SparkErrors.unwrap(e);
      }
    }
    return new AtlasRun.Summary(units.size(), skipped, todo.size(), false);
  }
}
