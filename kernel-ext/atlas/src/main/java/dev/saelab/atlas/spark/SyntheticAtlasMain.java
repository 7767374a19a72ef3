package dev.saelab.atlas.spark;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs the stand-in {@link SyntheticTopK} atlas on Spark from the command line: the engine's
 * cluster test drives it as a separate JVM. {@code java -cp saelab-atlas.jar
 * dev.saelab.atlas.spark.SyntheticAtlasMain --master spark://127.0.0.1:7077 --out DIR [--layers 2]
 * [--heads 4] [--head-group 2] [--features 64] [--row-block 16] [--top 20] [--unit-delay-ms 0]
 * [--format parquet|csv] [--wave-units N] [--damaged FILE] [--conf key=value]...}. Exit code 0, 2
 * on bad input (one line on stderr).
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
    try {
      SparkAtlas.Summary s =
          SparkAtlas.run(
              job,
              new SparkAtlas.Settings(
                  o.getOrDefault("master", "local[*]"),
                  o.get("out"),
                  o.getOrDefault("format", "parquet"),
                  conf,
                  Integer.parseInt(o.getOrDefault("wave-units", "0")),
                  System.err));
      System.out.println(
          "synthetic atlas: "
              + s.units()
              + " units, "
              + s.tables()
              + " tables, "
              + s.rows()
              + " rows");
      System.exit(0);
    } catch (IllegalArgumentException | dev.saelab.io.SaeLabException e) {
      System.err.println("saelab atlas: " + e.getMessage());
      System.exit(2);
    }
  }

  /** The stand-in job from the options. */
  static SyntheticTopK job(Map<String, String> o) {
    return new SyntheticTopK(
        Integer.parseInt(o.getOrDefault("layers", "2")),
        Integer.parseInt(o.getOrDefault("heads", "4")),
        Integer.parseInt(o.getOrDefault("head-group", "2")),
        Integer.parseInt(o.getOrDefault("features", "64")),
        Integer.parseInt(o.getOrDefault("row-block", "16")),
        Integer.parseInt(o.getOrDefault("top", "20")),
        Long.parseLong(o.getOrDefault("unit-delay-ms", "0")),
        o.get("damaged"));
  }
}
