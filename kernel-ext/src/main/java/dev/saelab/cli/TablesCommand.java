package dev.saelab.cli;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitSpec;
import dev.saelab.circuits.CircuitTable;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.HeadSet;
import dev.saelab.linalg.Screen;
import dev.saelab.circuits.LayerTable;
import dev.saelab.circuits.Rope;
import dev.saelab.linalg.Progress;
import dev.saelab.linalg.RankBy;
import dev.saelab.circuits.TableWriter;
import dev.saelab.labels.FeatureLabels;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;

/** {@code saelab tables}: per-head QK/OV feature tables of one layer, written as CSV. */
public final class TablesCommand {
  static final String HELP = String.join("\n",
      "usage: saelab tables --model MODEL --layer L --sae-in SAE [--sae-key SAE] [--sae-out SAE]",
      "         [--circuit qk|ov|both] [--heads all|0,3,5] [--top K] [--rank-by abs|value|-value] [--exclude-self]",
      "         [--scale raw|query] [--cosine] [--position DELTA [--pairing rotate-half|interleaved]]",
      "         [--heads sum [--breakdown]] [--labels-in LABELS] [--labels-out LABELS] [--format csv|bostock]",
      "         [--screen auto|int8|fp32] [--no-prune] --out FILE|DIR",
      "  MODEL   a Hugging Face model folder (config.json + safetensors)",
      "  SAE     a Gemma Scope folder or params.npz, or a SAELens folder; --sae-in reads the layer's input stream",
      "          (query, key and value side), --sae-out its output stream (OV output side)",
      "  LABELS  a Neuronpedia export (old JSON file, or a bulk-export folder of batch-N.jsonl.gz)",
      "  --format csv     (default) circuit,layer,head,rank,query_feature,key_feature,value[,labels]",
      "                   (OV: value_feature,output_feature); with --circuit both, --out is a folder: qk.csv, ov.csv",
      "  --cosine         cosine-normalised values: each divided by the norms of its two vectors",
      "  --position DELTA QK with the query DELTA tokens after the key, through the model's RoPE (rotate-half",
      "                   pairing as Gemma/Llama; interleaved as the post's plot)",
      "  --heads sum      the layer's circuit summed over heads, with head_spread (heads carrying 80%) and",
      "                   weak_in_every_head (in no head's own top K); --breakdown adds head_0..head_{n-1}",
      "  --screen         how tiles are computed before candidates are rescored exactly in double: int8 (integer",
      "                   GEMM, default with the AVX-512 build) or fp32; the tables are identical either way",
      "  --format bostock J Bostock's files per head in folder --out: 'Table of QKs for Head h.csv', its",
      "                   'Distinct' and 'Distinct Positive' filters, 'Table of OVs for Head h.csv'",
      "");
  private static final List<String> VALUES = List.of("--model", "--layer", "--sae-in", "--sae-key", "--sae-out",
      "--circuit", "--heads", "--top", "--rank-by", "--scale", "--position", "--pairing", "--labels-in", "--labels-out", "--format", "--out",
      "--screen");
  private static final List<String> FLAGS = List.of("--exclude-self", "--no-prune", "--cosine", "--breakdown", "--help",
      "--quiet");
  private final PrintStream out;
  private final PrintStream err;

  TablesCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  int run(String[] argv) {
    Args a = new Args("tables", argv, VALUES, FLAGS);
    Screen screen = Screen.parse(a.get("--screen", "auto"));
    if (a.has("--help")) {
      out.print(HELP);
      return 0;
    }
    String circuit = a.get("--circuit", "both").toLowerCase(Locale.ROOT);
    EnumSet<CircuitKind> kinds = switch (circuit) {
      case "qk" -> EnumSet.of(CircuitKind.QK);
      case "ov" -> EnumSet.of(CircuitKind.OV);
      case "both" -> EnumSet.allOf(CircuitKind.class);
      default -> throw new IllegalArgumentException("--circuit " + circuit + ": expected qk, ov or both");
    };
    String format = a.get("--format", "csv");
    if (!format.equals("csv") && !format.equals("bostock")) {
      throw new IllegalArgumentException("--format " + format + ": expected csv or bostock");
    }
    String scale = a.get("--scale", "raw");
    if (!scale.equals("raw") && !scale.equals("query")) {
      throw new IllegalArgumentException("--scale " + scale + ": expected raw or query");
    }
    Path outPath = Path.of(a.require("--out"));
    boolean toDir = format.equals("bostock") || kinds.size() == 2;
    if (toDir && Files.isRegularFile(outPath)) {
      throw new IllegalArgumentException("--out " + outPath + " is a file; " + (format.equals("bostock")
          ? "--format bostock" : "--circuit both") + " writes one file per circuit into a folder");
    }
    if (kinds.contains(CircuitKind.OV) && !a.has("--sae-out")) {
      throw new IllegalArgumentException("--circuit " + circuit + " needs --sae-out (the SAE on the layer's output)");
    }
    CircuitSpec spec = CircuitSpec.defaults().withKinds(kinds).withTopK(a.intValue("--top", 1000))
        .withRankBy(RankBy.parse(a.get("--rank-by", "abs"))).withExcludeSelf(a.has("--exclude-self"))
        .withQueryScale(scale.equals("query")).withPrune(!a.has("--no-prune")).withCosine(a.has("--cosine"))
        .withPosition(a.has("--position") ? a.intValue("--position", 0) : null,
            Rope.Pairing.parse(a.get("--pairing", "rotate-half")));
    boolean sum = a.get("--heads", "all").equals("sum");
    if (a.has("--breakdown") && !sum) {
      throw new IllegalArgumentException("--breakdown goes with --heads sum (per-head parts of the summed circuit)");
    }
    if (sum && format.equals("bostock")) {
      throw new IllegalArgumentException("--heads sum has no Bostock format (his tables are per head); use csv");
    }
    try (LayerInputs in = LayerInputs.open(a, true, false, err::println)) {
      spec = spec.withHeads(sum ? HeadSet.all() : parseHeads(a.get("--heads", "all"), in.model.config().nHeads()));
      FeatureLabels labelsIn = in.labelsIn;
      FeatureLabels labelsOut = in.labelsOut;
      long t0 = System.nanoTime();
      ProgressPrinter progress = new ProgressPrinter(a.has("--quiet") ? null : err);
      List<CircuitTable> tables;
      try (FeatureCircuits fc = FeatureCircuits.of(in.model.attention(in.layer), in.in, in.keySae(),
          kinds.contains(CircuitKind.OV) ? in.out : null)) {
        fc.screen(screen);
        if (sum) {
          List<LayerTable> sums = new java.util.ArrayList<>();
          for (CircuitKind kind : kinds) {
            sums.add(fc.computeSum(kind, spec, progress));
          }
          progress.finish(String.format(Locale.ROOT, "%d summed tables in %.2f s", sums.size(),
              (System.nanoTime() - t0) / 1e9));
          writeSums(sums, outPath, toDir, a.has("--breakdown"), labelsIn, a.has("--sae-key") ? null : labelsIn,
              labelsOut);
          return 0;
        }
        tables = fc.compute(spec, progress);
        progress.finish(String.format(Locale.ROOT, "%d tables in %.2f s, %d of %d tiles skipped by the norm bound,"
            + " %s screen, %d entries rescored", tables.size(), (System.nanoTime() - t0) / 1e9, fc.stats().skipped(),
            fc.stats().tiles(), fc.screen(), fc.stats().rescored()));
      }
      write(tables, outPath, format, toDir, labelsIn, a.has("--sae-key") ? null : labelsIn, labelsOut);
    }
    return 0;
  }

  private void write(List<CircuitTable> tables, Path outPath, String format, boolean toDir, FeatureLabels in,
      FeatureLabels keyLabels, FeatureLabels outLabels) {
    for (CircuitKind kind : CircuitKind.values()) {
      List<CircuitTable> ts = tables.stream().filter(t -> t.kind() == kind).toList();
      if (ts.isEmpty()) {
        continue;
      }
      FeatureLabels rowLabels = in;
      FeatureLabels colLabels = kind == CircuitKind.QK ? keyLabels : outLabels;
      if (format.equals("bostock")) {
        for (CircuitTable t : ts) {
          TableWriter.bostock(outPath, t, rowLabels, colLabels);
        }
        out.println("wrote " + ts.size() + " " + kind + " heads in Bostock's format to " + outPath);
      } else {
        Path file = toDir ? outPath.resolve(kind.id() + ".csv") : outPath;
        TableWriter.csv(file, ts, rowLabels, colLabels);
        out.println("wrote " + file + " (" + ts.stream().mapToInt(t -> t.edges().size()).sum() + " rows)");
      }
    }
  }

  private void writeSums(List<LayerTable> sums, Path outPath, boolean toDir, boolean breakdown, FeatureLabels in,
      FeatureLabels keyLabels, FeatureLabels outLabels) {
    for (LayerTable t : sums) {
      Path file = toDir ? outPath.resolve(t.kind().id() + "-sum.csv") : outPath;
      TableWriter.layerCsv(file, List.of(t), breakdown, in, t.kind() == CircuitKind.QK ? keyLabels : outLabels);
      out.println("wrote " + file + " (" + t.edges().size() + " rows, " + t.distributed().size()
          + " weak in every head)");
    }
  }

  /** Parses {@code all} or a list like {@code 0,3,5} ({@link HeadSet#parse}), checking each head. */
  public static HeadSet parseHeads(String s, int nHeads) {
    HeadSet h = HeadSet.parse(s);
    h.resolve(nHeads);
    return h;
  }

  /** Prints progress to stderr at most every half second. */
  static final class ProgressPrinter implements Progress {
    private final PrintStream err;
    private long last;

    ProgressPrinter(PrintStream err) {
      this.err = err;
    }

    @Override
    public void update(String stage, long done, long total) {
      long now = System.nanoTime();
      if (err != null && (now - last > 500_000_000L || done == total)) {
        last = now;
        err.printf(Locale.ROOT, "\r%-14s %5.1f%% (%d/%d tiles)", stage, 100.0 * done / Math.max(1, total), done, total);
      }
    }

    void finish(String msg) {
      if (err != null) {
        err.println();
        err.println(msg);
      }
    }
  }

}
