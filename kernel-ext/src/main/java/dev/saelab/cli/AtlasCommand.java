package dev.saelab.cli;

import dev.saelab.atlas.AtlasEngine;
import dev.saelab.atlas.AtlasProgress;
import dev.saelab.atlas.AtlasRun;
import dev.saelab.atlas.AtlasSpec;
import dev.saelab.atlas.LocalAtlasEngine;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.linalg.Screen;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code saelab atlas}: every layer × head × circuit table of a model, each feature's partners and
 * the head-level summaries, as resumable work units ({@link dev.saelab.atlas}); in this JVM as CSV,
 * or through an atlas engine on the class path (Parquet, Spark).
 */
@Command(
    name = "atlas",
    description =
        "Whole-model atlas: every layer × head × QK/OV table, each feature's top partners per head,"
            + " the circuits summed over heads and every head's singular values, written as"
            + " partitions DIR/table/layer=L/head=H/circuit=C/part-0.csv (also partners/, summary/,"
            + " spectra/). Resumable: a rerun skips finished units.",
    footer = {
      "",
      "Examples:",
      "  saelab atlas --model datasets/tiny-gemma2 --layers 1 --saes"
          + " datasets/tiny-gemma-scope/layer_{L-1}/width_*/average_l0_* --top 50 --per-feature 5"
          + " --format csv --out target/atlas",
      "  saelab atlas --model datasets/tiny-gemma2 --layers 1 --saes"
          + " datasets/tiny-gemma-scope/layer_{L-1}/width_*/average_l0_* --top 50 --rows-per-unit"
          + " 32 --shard 0/2 --format csv --out target/atlas-sharded",
      "  saelab atlas --model datasets/tiny-gemma2 --layers 1 --saes"
          + " datasets/tiny-gemma-scope/layer_{L-1}/width_*/average_l0_* --top 50 --rows-per-unit"
          + " 32 --shard 1/2 --format csv --out target/atlas-sharded",
      "  saelab atlas-merge target/atlas-sharded"
    })
public final class AtlasCommand extends CliCommand {
  /**
   * What to build or add for Parquet and clusters: the atlas runner artifact (one place, so it is
   * easy to change).
   */
  public static final String RUNNER_ARTIFACT =
      "kernel-ext/target/saelab-atlas.jar, built with `mvn -P atlas package`";

  @Option(
      names = "--model",
      paramLabel = "MODEL",
      required = true,
      description = "model folder (config.json + safetensors), registry alias or hf://ORG/NAME")
  String model;

  @Option(
      names = "--layers",
      paramLabel = "all|3,7-12",
      defaultValue = "all",
      description = "attention layers (default all)")
  String layers;

  @Option(
      names = "--saes",
      paramLabel = "SPEC",
      required = true,
      description =
          "one SAE per residual stream: a path or release id with {L} for the attention layer whose"
              + " input it reads ({L-1}, {L+1} shift it: Gemma Scope's resid_post folders are"
              + " layer_{L-1}); layer L's output side uses the pattern at L+1; a * in a local path"
              + " matches one existing name")
  String saes;

  @Option(
      names = "--labels",
      paramLabel = "SPEC",
      description = "Neuronpedia labels per SAE, the same pattern ({L}); joined as label columns")
  String labels;

  @Option(
      names = "--circuits",
      paramLabel = "qk,ov",
      defaultValue = "qk,ov",
      converter = KindsConverter.class,
      description = "qk, ov or qk,ov (default)")
  Set<CircuitKind> circuits;

  @Option(
      names = "--top",
      paramLabel = "K",
      defaultValue = "1000",
      converter = Converters.PositiveConverter.class,
      description = "entries per layer, head and circuit (default ${DEFAULT-VALUE})")
  int top;

  @Option(
      names = "--per-feature",
      paramLabel = "K2",
      defaultValue = "0",
      converter = Converters.NonNegativeConverter.class,
      description =
          "each feature's top K2 partners per head and role (query, key, value, output); 0"
              + " (default) writes no partners/")
  int perFeature;

  @Option(
      names = "--rows-per-unit",
      paramLabel = "N",
      defaultValue = "0",
      converter = Converters.NonNegativeConverter.class,
      description =
          "row features per work unit (default 0: chosen from the shapes to bound a unit's memory)")
  int rowsPerUnit;

  @Option(
      names = "--shard",
      paramLabel = "i/N",
      description =
          "compute only units i, i+N, i+2N, ... (0 ≤ i < N; e.g. a Slurm array task), then run"
              + " saelab atlas-merge DIR once every shard is done")
  String shard;

  @Option(
      names = "--format",
      paramLabel = "csv|parquet",
      description =
          "parquet (default when an atlas engine on the class path writes it) or csv (in this JVM)")
  String format;

  @Option(
      names = "--master",
      paramLabel = "URL",
      description = "run on a cluster (local[*], spark://HOST:PORT) through the atlas runner")
  String master;

  @Option(
      names = "--threads",
      paramLabel = "N",
      defaultValue = "1",
      converter = Converters.PositiveConverter.class,
      description =
          "units computed at once in this JVM (default 1; each unit already uses the cores)")
  int threads;

  @Mixin Options.RankByOption rankBy;
  @Mixin Options.ScaleOption scale;
  @Mixin Options.QkNormOption qkNorm;

  @Option(
      names = "--screen",
      paramLabel = "auto|int8|fp32",
      converter = Converters.ScreenConverter.class,
      description =
          "how tiles are screened before exact rescoring; the atlas is identical either way")
  Screen screen;

  @Option(names = "--exclude-self", description = "drop QK self pairs (i = j)")
  boolean excludeSelf;

  @Option(
      names = "--no-summaries",
      description = "leave out the summed circuits and singular spectra (summary/, spectra/)")
  boolean noSummaries;

  @Option(
      names = "--out",
      paramLabel = "DIR",
      required = true,
      description = "the atlas folder (created; a rerun with the same options resumes it)")
  Path outDir;

  @Option(names = "--quiet", description = "no progress on stderr")
  boolean quiet;

  /** {@code qk}, {@code ov}, {@code qk,ov} (or {@code both}). */
  public static final class KindsConverter implements ITypeConverter<Set<CircuitKind>> {
    @Override
    public Set<CircuitKind> convert(String s) {
      Set<CircuitKind> k = EnumSet.noneOf(CircuitKind.class);
      for (String p : s.split(",")) {
        switch (p.strip()) {
          case "qk" -> k.add(CircuitKind.QK);
          case "ov" -> k.add(CircuitKind.OV);
          case "both" -> k.addAll(EnumSet.allOf(CircuitKind.class));
          default -> throw new TypeConversionException("expected qk, ov or qk,ov");
        }
      }
      return k;
    }
  }

  /** The spec the options describe. */
  AtlasSpec spec() {
    return new AtlasSpec(
        model,
        layers,
        saes,
        labels,
        circuits,
        top,
        perFeature,
        rowsPerUnit,
        rankBy.value(),
        screen,
        qkNorm.value(),
        excludeSelf,
        scale.query(),
        !noSummaries);
  }

  private int[] shard() {
    if (shard == null) {
      return new int[] {0, 1};
    }
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)/(\\d+)").matcher(shard);
    if (!m.matches()) {
      throw new IllegalArgumentException("--shard " + shard + ": expected i/N, e.g. 0/4");
    }
    int i = Integer.parseInt(m.group(1));
    int n = Integer.parseInt(m.group(2));
    if (n < 1 || i >= n) {
      throw new IllegalArgumentException(
          "--shard " + shard + ": expected 0 ≤ i < N (shard i of N machines, from 0)");
    }
    return new int[] {i, n};
  }

  /** The engine for the format and master asked for; one line saying what to add when none. */
  private AtlasEngine engine(List<AtlasEngine> installed) {
    if (format != null && !format.equals("csv") && !format.equals("parquet")) {
      throw new IllegalArgumentException("--format " + format + ": expected csv or parquet");
    }
    for (AtlasEngine e : installed) {
      boolean fmt = format == null ? e.supports("parquet") : e.supports(format);
      if (fmt && (master == null || e.supportsMaster())) {
        return e;
      }
    }
    if (master != null) {
      throw new IllegalArgumentException(
          "--master needs the atlas runner on the class path: " + RUNNER_ARTIFACT);
    }
    if (format == null) {
      throw new IllegalArgumentException(
          "no Parquet writer in this jar (the atlas runner is "
              + RUNNER_ARTIFACT
              + "): pass --format csv to write CSV in this JVM");
    }
    if (format.equals("parquet")) {
      throw new IllegalArgumentException(
          "--format parquet needs the atlas runner on the class path ("
              + RUNNER_ARTIFACT
              + "), or pass --format csv");
    }
    return new LocalAtlasEngine();
  }

  @Override
  public Integer call() throws Exception {
    AtlasSpec spec = spec();
    int[] sh = shard();
    AtlasEngine engine = engine(AtlasEngine.installed());
    String fmt = format != null ? format : "parquet";
    AtlasRun run = new AtlasRun(outDir, fmt, master, sh[0], sh[1], threads);
    ProgressPrinter pp = new ProgressPrinter(quiet ? null : err, "units");
    long t0 = System.nanoTime();
    AtlasRun.Summary s =
        engine.run(
            spec,
            run,
            new AtlasProgress() {
              @Override
              public void unit(String id, long done, long total) {
                pp.update(id, done, total);
              }

              @Override
              public void message(String line) {
                err.println(line);
              }
            });
    String counts =
        String.format(
            Locale.ROOT,
            "%d units (%d computed, %d finished earlier) in %.2f s",
            s.units(),
            s.computed(),
            s.skipped(),
            (System.nanoTime() - t0) / 1e9);
    pp.finish(counts);
    if (s.merged()) {
      out.println("wrote atlas " + outDir + ": " + counts);
    } else {
      out.println(
          "wrote shard "
              + sh[0]
              + "/"
              + sh[1]
              + " of atlas "
              + outDir
              + ": "
              + counts
              + "; when every shard is done: saelab atlas-merge "
              + outDir);
    }
    return 0;
  }
}
