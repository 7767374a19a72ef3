package dev.saelab.cli;

import dev.saelab.api.Analysis;
import dev.saelab.api.CircuitQuery;
import dev.saelab.api.FeatureTable;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitSpec;
import dev.saelab.circuits.CircuitTable;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.LayerTable;
import dev.saelab.circuits.TableWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code saelab tables} (QK and OV), {@code saelab qk} and {@code saelab ov}: per-head
 * feature-to-feature tables of one layer, written as CSV; as magics ({@code %tables}, {@code %qk},
 * {@code %ov}) they return a {@link FeatureTable} (or, with {@code --heads sum}, an {@link
 * Analysis}).
 */
public abstract class TablesCommand extends CliCommand implements Shared {
  @Mixin InputOptions inputs;
  @Mixin TableOptions table;

  @Option(
      names = "--format",
      paramLabel = "csv|bostock",
      defaultValue = "csv",
      description =
          "csv (default): circuit,layer,head,rank,query_feature,key_feature,value[,labels] (OV:"
              + " value_feature,output_feature); bostock: J Bostock's files per head in folder"
              + " --out ('Table of QKs for Head h.csv', its 'Distinct' and 'Distinct Positive'"
              + " filters, 'Table of OVs for Head h.csv')")
  String format;

  @Option(
      names = "--out",
      paramLabel = "FILE|DIR",
      description =
          "where to write (required on the command line; a folder for both circuits or --format"
              + " bostock; in a notebook the table is returned and also written when --out is"
              + " given)")
  Path outPath;

  @Option(names = "--quiet", description = "no progress on stderr")
  boolean quiet;

  /** The circuits this command computes. */
  abstract Set<CircuitKind> kinds();

  @Override
  public InputOptions inputs() {
    return inputs;
  }

  private void validate(Set<CircuitKind> kinds) {
    table.validate();
    if (!format.equals("csv") && !format.equals("bostock")) {
      throw new IllegalArgumentException("--format " + format + ": expected csv or bostock");
    }
    if (table.heads.sum() && format.equals("bostock")) {
      throw new IllegalArgumentException(
          "--heads sum has no Bostock format (his tables are per head); use csv");
    }
    boolean toDir = format.equals("bostock") || kinds.size() == 2;
    if (outPath != null && toDir && Files.isRegularFile(outPath)) {
      throw new IllegalArgumentException(
          "--out "
              + outPath
              + " is a file; "
              + (format.equals("bostock") ? "--format bostock" : "both circuits")
              + " write one file per circuit into a folder");
    }
  }

  @Override
  public Integer call() {
    Set<CircuitKind> kinds = kinds();
    validate(kinds);
    requireOut(outPath, "FILE|DIR");
    try (LayerInputs in =
        LayerInputs.open(inputs, true, kinds.contains(CircuitKind.OV), err::println)) {
      return write(in, kinds);
    }
  }

  /**
   * Computes the tables on {@code in} and writes them to {@code --out}, as the command line does.
   */
  private int write(Layer in, Set<CircuitKind> kinds) {
    boolean ov = kinds.contains(CircuitKind.OV);
    {
      if (ov) {
        in.requireSaeOut("the OV circuit");
      }
      CircuitSpec spec = table.spec(kinds, in.model().config().nHeads());
      String masked = table.maskedWarning(in.model().config(), in.layer());
      if (masked != null) {
        err.println(masked);
      }
      long t0 = System.nanoTime();
      ProgressPrinter progress = new ProgressPrinter(quiet ? null : err);
      try (FeatureCircuits fc =
          FeatureCircuits.of(
              in.model().attention(in.layer()),
              in.saeIn(),
              in.keySae(),
              ov ? in.saeOut() : null,
              table.qkNorm.value())) {
        if (table.screen != null) {
          fc.screen(table.screen);
        }
        if (table.heads.sum()) {
          List<LayerTable> sums = new ArrayList<>();
          for (CircuitKind kind : kinds) {
            sums.add(fc.computeSum(kind, spec, progress));
          }
          progress.finish(
              String.format(
                  Locale.ROOT,
                  "%d summed tables in %.2f s",
                  sums.size(),
                  (System.nanoTime() - t0) / 1e9));
          for (LayerTable t : sums) {
            Path file = kinds.size() == 2 ? outPath.resolve(t.kind().id() + "-sum.csv") : outPath;
            TableWriter.layerCsv(
                file,
                List.of(t),
                table.breakdown,
                in.labelsIn(),
                t.kind() == CircuitKind.QK ? in.keyLabels() : in.labelsOut());
            out.println(
                "wrote "
                    + file
                    + " ("
                    + t.edges().size()
                    + " rows, "
                    + t.distributed().size()
                    + " weak in every head)");
          }
          return 0;
        }
        List<CircuitTable> tables = fc.compute(spec, progress);
        progress.finish(
            String.format(
                Locale.ROOT,
                "%d tables in %.2f s, %d of %d tiles skipped by the norm bound,"
                    + " %s screen, %d entries rescored",
                tables.size(),
                (System.nanoTime() - t0) / 1e9,
                fc.stats().skipped(),
                fc.stats().tiles(),
                fc.screen(),
                fc.stats().rescored()));
        write(
            filter(new FeatureTable(tables, in.labelsIn(), in.keyLabels(), in.labelsOut())),
            kinds,
            outPath);
      }
    }
    return 0;
  }

  @Override
  public Object result(Layer l) {
    Set<CircuitKind> kinds = kinds();
    validate(kinds);
    l.requireSaeIn();
    if (kinds.contains(CircuitKind.OV)) {
      l.requireSaeOut("the OV circuit");
    }
    CircuitQuery q = table.applyTo(Queries.of(l, err::println), l.model().config().nHeads());
    String masked = table.maskedWarning(l.model().config(), l.layer());
    if (masked != null) {
      err.println(masked);
    }
    if (table.heads.sum()) {
      if (kinds.size() == 2) {
        throw new IllegalArgumentException("--heads sum returns one circuit: use qk or ov");
      }
      Analysis a = kinds.contains(CircuitKind.QK) ? q.qkSum() : q.ovSum();
      if (outPath != null) {
        write(l, kinds);
      }
      return a;
    }
    FeatureTable t =
        filter(kinds.size() == 2 ? q.both() : kinds.contains(CircuitKind.QK) ? q.qk() : q.ov());
    if (outPath != null) {
      write(t, kinds, outPath);
    }
    return t;
  }

  private FeatureTable filter(FeatureTable t) {
    return table.distinct ? t.distinct() : table.distinctPositive ? t.distinctPositive() : t;
  }

  private void write(FeatureTable t, Set<CircuitKind> kinds, Path outPath) {
    for (CircuitKind kind : kinds) {
      FeatureTable k = t.circuit(kind);
      if (format.equals("bostock")) {
        k.writeBostock(outPath);
        out.println(
            "wrote "
                + k.circuitTables().size()
                + " "
                + kind
                + " heads in Bostock's format to "
                + outPath);
      } else {
        Path file = kinds.size() == 2 ? outPath.resolve(kind.id() + ".csv") : outPath;
        k.writeCsv(file);
        out.println("wrote " + file + " (" + k.size() + " rows)");
      }
    }
  }

  /** {@code saelab tables}: QK, OV or both. */
  @Command(
      name = "tables",
      description =
          "Per-head QK/OV feature-to-feature tables of one layer (QK: query feature attends to key"
              + " feature; OV: value feature writes output feature), summed over heads, at a RoPE"
              + " distance, cosine-normalised.",
      footer = {
        "",
        "Examples:",
        "  saelab tables --model datasets/tiny-gemma2 --layer 1 --sae-in"
            + " datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12 --sae-out"
            + " datasets/tiny-gemma-scope/layer_1/width_96/average_l0_9 --top 100 --out"
            + " target/tables"
      })
  public static final class Both extends TablesCommand {
    @Option(
        names = "--circuit",
        paramLabel = "qk|ov|both",
        defaultValue = "both",
        converter = Converters.CircuitsConverter.class,
        description = "which circuits (default both)")
    Set<CircuitKind> circuit;

    @Override
    Set<CircuitKind> kinds() {
      return circuit;
    }
  }

  /** {@code saelab qk}. */
  @Command(
      name = "qk",
      description =
          "QK feature-to-feature table per head: query feature i attends to key feature"
              + " j, QK[i,j] = q_i · k_j.",
      footer = {
        "",
        "Examples:",
        "  saelab qk --model datasets/tiny-gemma2 --layer 1 --sae-in"
            + " datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12 --heads 1 --top 20 --out"
            + " target/qk.csv",
        "  saelab qk --model datasets/tiny-gemma2 --layer 1 --sae-in"
            + " datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12 --heads sum --top 5"
            + " --breakdown --out target/qk-sum.csv"
      })
  public static final class Qk extends TablesCommand {
    @Override
    Set<CircuitKind> kinds() {
      return EnumSet.of(CircuitKind.QK);
    }
  }

  /** {@code saelab ov}. */
  @Command(
      name = "ov",
      description =
          "OV feature-to-feature table per head: value feature i writes output feature"
              + " j, OV[i,j] = v_i · p_j (needs --sae-out).",
      footer = {
        "",
        "Examples:",
        "  saelab ov --model datasets/tiny-gemma2 --layer 1 --sae-in"
            + " datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12 --sae-out"
            + " datasets/tiny-gemma-scope/layer_1/width_96/average_l0_9 --heads 2 --top 20 --out"
            + " target/ov.csv"
      })
  public static final class Ov extends TablesCommand {
    @Override
    Set<CircuitKind> kinds() {
      return EnumSet.of(CircuitKind.OV);
    }
  }
}
