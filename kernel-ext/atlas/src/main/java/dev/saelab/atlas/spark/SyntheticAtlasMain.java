package dev.saelab.atlas.spark;

import dev.saelab.atlas.AtlasProgress;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * Runs the stand-in {@link SyntheticTopK} atlas on Spark from the command line (the engine's
 * cluster test drives it as a separate JVM): {@code java -cp saelab-atlas.jar
 * dev.saelab.atlas.spark.SyntheticAtlasMain --master spark://127.0.0.1:7077 --out DIR [--layers 2]
 * [--heads 4] [--features 64] [--row-block 16] [--top 20] [--unit-delay-ms 0] [--format
 * parquet|csv] [--wave-units N] [--damaged FILE] [--conf key=value]...}. One line per finished unit
 * on stderr. Exit code 0, or 2 on bad input (one line on stderr).
 */
public final class SyntheticAtlasMain {
  private SyntheticAtlasMain() {}

  /** Entry point. */
  public static void main(String[] args) {
    Map<String, String> o = new LinkedHashMap<>();
    Map<String, String> conf = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (args[i].equals("--conf")) {
        String[] kv = args[i + 1].split("=", 2);
        conf.put(kv[0], kv.length > 1 ? kv[1] : "");
      } else {
        o.put(args[i].replaceFirst("^--", ""), args[i + 1]);
      }
    }
    SyntheticTopK job = job(o);
    SparkAtlas.Settings settings =
        new SparkAtlas.Settings(
            o.getOrDefault("master", "local[*]"),
            Path.of(o.get("out")),
            o.getOrDefault("format", "parquet"),
            conf,
            Integer.parseInt(o.getOrDefault("wave-units", "0")));
    SparkSession spark = SparkAtlas.session(settings);
    int code = 0;
    try {
      SparkAtlas.Summary s = SparkAtlas.run(spark, job, settings, lines());
      System.out.printf(
          "synthetic atlas: %d units (%d computed), %d partitions in %.1f s%n",
          s.units(), s.computed(), s.partitions(), s.seconds());
    } catch (IllegalArgumentException | dev.saelab.io.SaeLabException e) {
      System.err.println("saelab atlas: " + e.getMessage());
      code = 2;
    } finally {
      spark.stop();
    }
    System.exit(code);
  }

  /** Progress as lines on stderr: {@code atlas: unit 3/48 done (L0-H1-qk-r8-16)}. */
  static AtlasProgress lines() {
    return new AtlasProgress() {
      @Override
      public void unit(String id, long done, long total) {
        System.err.println("atlas: unit " + done + "/" + total + " done (" + id + ")");
      }

      @Override
      public void message(String line) {
        System.err.println("atlas: " + line);
      }
    };
  }

  /** The stand-in job from the options. */
  static SyntheticTopK job(Map<String, String> o) {
    return new SyntheticTopK(
        Integer.parseInt(o.getOrDefault("layers", "2")),
        Integer.parseInt(o.getOrDefault("heads", "4")),
        Integer.parseInt(o.getOrDefault("features", "64")),
        Integer.parseInt(o.getOrDefault("row-block", "16")),
        Integer.parseInt(o.getOrDefault("top", "20")),
        Long.parseLong(o.getOrDefault("unit-delay-ms", "0")),
        o.get("damaged"));
  }
}
