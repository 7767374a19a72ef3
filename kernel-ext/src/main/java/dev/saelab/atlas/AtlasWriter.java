package dev.saelab.atlas;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.TableWriter;
import dev.saelab.io.AtomicFiles;
import dev.saelab.io.SaeLabException;
import dev.saelab.labels.FeatureLabels;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * An atlas folder, written so that a run can stop at any moment and resume:
 *
 * <pre>
 * DIR/_atlas.spec                        the spec (a rerun must ask for the same)
 * DIR/_units/&lt;unit-id&gt;.unit            each finished unit's result (partial: one row block)
 * DIR/_done/&lt;unit-id&gt;                  marker, written after its result
 * DIR/table/layer=L/head=H/circuit=C/part-0.csv     merged partitions ({@link AtlasTables})
 * DIR/partners/layer=L/head=H/circuit=C/part-0.csv
 * DIR/summary/layer=L/circuit=C/part-0.csv
 * DIR/spectra/layer=L/circuit=C/part-0.csv
 * DIR/_SUCCESS                           every partition written
 * </pre>
 *
 * Every file is written to a temporary name and moved into place ({@link AtomicFiles}): an
 * interrupted run leaves whole files or none, and loses only the units in flight. The partial
 * results live under {@code _units/}, outside the partition folders, so a reader globbing the
 * partitions never sees them; {@link #merge} (at the end of a whole run, or {@code atlas-merge}
 * after sharded runs) turns them into one file per partition.
 */
public final class AtlasWriter {
  /** The file every partition is written to. */
  public static final String PART = "part-0.csv";

  private final Path dir;
  private final AtlasSpec spec;

  private AtlasWriter(Path dir, AtlasSpec spec) {
    this.dir = dir;
    this.spec = spec;
  }

  /**
   * Opens {@code dir} for {@code spec}: a new folder records the spec; a folder of an earlier run
   * must hold the same spec (a one-line error otherwise).
   */
  public static AtlasWriter open(Path dir, AtlasSpec spec) {
    Path f = dir.resolve("_atlas.spec");
    if (Files.exists(f)) {
      AtlasSpec old = readSpec(dir);
      if (!old.equals(spec)) {
        throw new SaeLabException(
            dir
                + " holds an atlas of other options ("
                + describe(old)
                + "); use another folder, or the same options to resume it");
      }
    } else {
      if (Files.isRegularFile(dir)) {
        throw SaeLabException.inFile(dir, "is a file; an atlas is written into a folder");
      }
      write(f, spec);
      TableWriter.write(dir.resolve("_atlas.txt"), describe(spec) + "\n");
    }
    return new AtlasWriter(dir, spec);
  }

  /** The spec recorded in an atlas folder. */
  public static AtlasSpec readSpec(Path dir) {
    Path f = dir.resolve("_atlas.spec");
    if (!Files.exists(f)) {
      throw SaeLabException.inFile(dir, "is not an atlas folder (no _atlas.spec)");
    }
    Object o = read(f);
    if (!(o instanceof AtlasSpec s)) {
      throw SaeLabException.inFile(f, "does not hold an atlas spec");
    }
    return s;
  }

  /** One line describing a spec (for messages and {@code _atlas.txt}). */
  static String describe(AtlasSpec s) {
    return "model "
        + s.model()
        + ", layers "
        + s.layers()
        + ", SAEs "
        + s.saes()
        + (s.labels() == null ? "" : ", labels " + s.labels())
        + ", circuits "
        + s.circuits()
        + ", top "
        + s.topK()
        + ", per feature "
        + s.perFeature()
        + ", rows per unit "
        + (s.rowsPerUnit() == 0 ? "auto" : s.rowsPerUnit())
        + ", rank by "
        + s.rankBy()
        + ", q/k norm "
        + s.qkNorm()
        + (s.excludeSelf() ? ", self pairs excluded" : "")
        + (s.queryScale() ? ", query-scaled" : "")
        + (s.summaries() ? "" : ", no summaries");
  }

  /** The folder. */
  public Path dir() {
    return dir;
  }

  /** The spec. */
  public AtlasSpec spec() {
    return spec;
  }

  private Path unitFile(WorkUnit u) {
    return dir.resolve("_units").resolve(u.id() + ".unit");
  }

  private Path marker(WorkUnit u) {
    return dir.resolve("_done").resolve(u.id());
  }

  /** Whether {@code u} was finished by an earlier run (its marker and its result exist). */
  public boolean isDone(WorkUnit u) {
    return Files.exists(marker(u)) && Files.exists(unitFile(u));
  }

  /** Saves a finished unit: its result, then its marker. */
  public void save(UnitResult r) {
    write(unitFile(r.unit()), r);
    TableWriter.write(marker(r.unit()), r.unit().id() + "\n");
  }

  /** A finished unit's result; a damaged file loses its marker (a rerun recomputes the unit). */
  public UnitResult load(WorkUnit u) {
    Path f = unitFile(u);
    try {
      Object o = read(f);
      if (o instanceof UnitResult r && r.unit().equals(u)) {
        return r;
      }
      throw SaeLabException.inFile(f, "does not hold the result of unit " + u.id());
    } catch (SaeLabException e) {
      try {
        Files.deleteIfExists(marker(u));
      } catch (IOException ignored) {
        // the message below says what to do
      }
      throw new SaeLabException(
          e.getMessage() + " (its marker is removed: rerun the atlas with the same options)");
    }
  }

  /**
   * Merges every partition of {@code plan} from the unit results and writes it, then {@code
   * _SUCCESS}; a one-line error lists units not finished. Returns the files written.
   */
  public List<Path> merge(AtlasPlan plan, Consumer<String> warnings) {
    List<String> missing = new ArrayList<>();
    for (WorkUnit u : plan.units()) {
      if (!isDone(u)) {
        missing.add(u.id());
      }
    }
    if (!missing.isEmpty()) {
      throw new SaeLabException(
          dir
              + ": "
              + missing.size()
              + " of "
              + plan.units().size()
              + " units not finished (first "
              + missing.get(0)
              + "); run the remaining shards first");
    }
    Map<Integer, FeatureLabels[]> labels = new HashMap<>();
    List<Path> written = new ArrayList<>();
    for (Map.Entry<String, List<WorkUnit>> part : plan.partitions().entrySet()) {
      UnitResult merged = null;
      for (WorkUnit u : part.getValue()) {
        UnitResult r = load(u);
        merged = merged == null ? r : UnitMerge.merge(merged, r);
      }
      WorkUnit u = merged.unit();
      AtlasInputs.LayerShape ls = plan.layer(u.layer());
      if (u.part() == WorkUnit.Part.TABLE && merged.rowsCovered() != ls.nIn()) {
        throw new IllegalStateException(
            part.getKey() + ": merged " + merged.rowsCovered() + " of " + ls.nIn() + " rows");
      }
      FeatureLabels[] l =
          labels.computeIfAbsent(u.layer(), k -> AtlasInputs.labels(spec, ls, warnings));
      FeatureLabels colLabels = u.circuit() == CircuitKind.QK ? l[0] : l[1];
      for (AtlasRows rows : AtlasTables.rows(merged, l[0], colLabels, spec.labels() != null)) {
        written.add(writeCsv(dir, rows));
      }
    }
    TableWriter.write(dir.resolve("_SUCCESS"), "");
    return written;
  }

  /** Writes one partition's rows as {@code DIR/<partition>/part-0.csv}, atomically. */
  public static Path writeCsv(Path dir, AtlasRows rows) {
    Path f = dir.resolve(rows.dir()).resolve(PART);
    TableWriter.write(f, rows.csv());
    return f;
  }

  private static void write(Path f, Object o) {
    try {
      AtomicFiles.write(
          f,
          out -> {
            ObjectOutputStream oos = new ObjectOutputStream(new BufferedOutputStream(out, 1 << 16));
            oos.writeObject(o);
            oos.flush();
          });
    } catch (IOException e) {
      throw SaeLabException.inFile(f, "cannot write: " + e.getMessage());
    }
  }

  private static Object read(Path f) {
    try (InputStream in = new BufferedInputStream(Files.newInputStream(f), 1 << 16);
        ObjectInputStream ois = new ObjectInputStream(in)) {
      ois.setObjectInputFilter(
          java.io.ObjectInputFilter.Config.createFilter(
              "maxdepth=12;dev.saelab.atlas.*;dev.saelab.circuits.CircuitKind;"
                  + "dev.saelab.circuits.QkNorm;dev.saelab.linalg.RankBy;dev.saelab.linalg.Screen;"
                  + "java.lang.*;java.util.*;java.lang.Enum;!*"));
      return ois.readObject();
    } catch (IOException | ClassNotFoundException | RuntimeException e) {
      throw SaeLabException.inFile(f, "is damaged or not an atlas file: " + e);
    }
  }
}
