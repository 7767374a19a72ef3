package dev.saelab.atlas;

/**
 * An engine that runs an atlas: the in-process {@link LocalAtlasEngine}, or one found on the class
 * path through {@link java.util.ServiceLoader} (e.g. a Spark runner in a second artifact: it
 * enumerates {@link AtlasPlan#units}, runs each with {@link UnitRunner#run}, reduces per {@link
 * WorkUnit#partitionKey} with {@link UnitMerge#merge}, turns each merged result into {@link
 * AtlasRows} with {@link AtlasTables#rows} and writes them).
 */
public interface AtlasEngine {
  /** A short name, e.g. {@code local} or {@code spark}. */
  String name();

  /** Whether it writes {@code format} ({@code csv}, {@code parquet}). */
  boolean supports(String format);

  /** Whether it runs on a cluster given by a master URL ({@link AtlasRun#master}). */
  boolean supportsMaster();

  /**
   * Runs the atlas {@code spec} as {@code run} says, reporting to {@code progress}.
   *
   * @throws Exception a one-line failure (bad input names its file) or an interrupt
   */
  AtlasRun.Summary run(AtlasSpec spec, AtlasRun run, AtlasProgress progress) throws Exception;

  /** The engines on the class path ({@link java.util.ServiceLoader}), in loading order. */
  static java.util.List<AtlasEngine> installed() {
    java.util.List<AtlasEngine> out = new java.util.ArrayList<>();
    for (AtlasEngine e : java.util.ServiceLoader.load(AtlasEngine.class)) {
      out.add(e);
    }
    return out;
  }
}
