package dev.saelab.atlas;

import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.hub.Sources;
import dev.saelab.io.SaeLabException;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.LabelMatch;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Opens what an {@link AtlasSpec} names, layer by layer: resolves the SAE and label patterns (a
 * missing input SAE is a one-line error naming the layer and the resolved path; a missing output
 * SAE leaves that layer's OV out), and keeps the prepared projections of the most recently used
 * layers alive for the units that follow ({@link #acquire}: a cache per JVM, so a cluster executor
 * running many units of one layer prepares it once).
 */
public final class AtlasInputs {
  private AtlasInputs() {}

  /** Layers whose projections stay prepared (least recently used evicted): 2 by default. */
  static final int CACHED_LAYERS = Integer.getInteger("saelab.atlas.cachedLayers", 2);

  private static final Map<String, Prepared> CACHE = new LinkedHashMap<>(4, 0.75f, true);

  /** One layer's sizes: SAE widths on each side (0 for a missing output SAE). */
  public record LayerShape(int layer, long nIn, long nOut, String saeIn, String saeOut) {}

  /**
   * The model's configuration and each layer's SAE widths, read from headers only; {@code warnings}
   * hears of layers whose output SAE is missing.
   */
  public record Shape(ModelConfig config, List<LayerShape> layers) {}

  /** Reads the shapes the plan needs: the model's configuration and each layer's SAE widths. */
  public static Shape shape(AtlasSpec spec, Consumer<String> warnings) {
    Sources src = Sources.fromEnvironment();
    ModelConfig c;
    String first = spec.layers().equals("all") ? "0" : spec.layers().split("[,-]")[0].strip();
    try (ModelWeights m = ModelWeights.open(src.model(spec.model(), Integer.parseInt(first)))) {
      c = m.config();
    }
    int[] layers = spec.layerList(c.nLayers());
    List<LayerShape> out = new ArrayList<>();
    for (int l : layers) {
      String in = resolve(src, spec.saeIn(l), l, "input");
      if (in == null) {
        throw new SaeLabException(
            "layer "
                + l
                + ": no input SAE at "
                + spec.saeIn(l)
                + " (the SAE pattern "
                + spec.saes()
                + " at L="
                + l
                + ")");
      }
      long nIn = width(src, in, "in", l);
      long nOut = 0;
      String outSpec = null;
      if (spec.circuits().contains(dev.saelab.circuits.CircuitKind.OV)) {
        outSpec = resolve(src, spec.saeOut(l), l, "output");
        if (outSpec == null) {
          warnings.accept(
              "layer "
                  + l
                  + ": no output SAE at "
                  + spec.saeOut(l)
                  + " (the SAE pattern at L+1="
                  + (l + 1)
                  + "), so its OV tables are left out");
        } else {
          nOut = width(src, outSpec, "out", l);
        }
      }
      out.add(new LayerShape(l, nIn, nOut, in, outSpec));
    }
    return new Shape(c, out);
  }

  private static long width(Sources src, String spec, String role, int layer) {
    try (SaeDictionary s = SaeDictionary.open(src.sae(spec, Sources.matricesFor(role)))) {
      return s.config().dSae();
    }
  }

  /**
   * The spec with any {@code *} matched, or null when nothing local exists there (and it names
   * nothing remote).
   */
  static String resolve(Sources src, String spec, int layer, String side) {
    if (src.isRemote(spec)) {
      return spec;
    }
    String s = spec.contains("*") ? glob(spec, layer, side) : spec;
    if (s == null) {
      return null;
    }
    int hash = s.indexOf('#');
    Path p = Path.of(hash > 0 ? s.substring(0, hash) : s);
    return Files.exists(p) ? s : null;
  }

  /** Matches each {@code *} segment against the existing names; exactly one may match. */
  private static String glob(String spec, int layer, String side) {
    String[] parts = spec.split("/", -1);
    Path at = spec.startsWith("/") ? Path.of("/") : Path.of("");
    for (int i = 0; i < parts.length; i++) {
      String seg = parts[i];
      if (seg.isEmpty()) {
        continue;
      }
      if (!seg.contains("*")) {
        at = at.resolve(seg);
        continue;
      }
      Path dir = at.toString().isEmpty() ? Path.of(".") : at;
      if (!Files.isDirectory(dir)) {
        return null;
      }
      PathMatcher pm = FileSystems.getDefault().getPathMatcher("glob:" + seg);
      List<Path> hits = new ArrayList<>();
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
        for (Path p : ds) {
          if (pm.matches(p.getFileName())) {
            hits.add(p.getFileName());
          }
        }
      } catch (IOException e) {
        throw SaeLabException.inFile(dir, "cannot list: " + e.getMessage());
      }
      if (hits.isEmpty()) {
        return null;
      }
      if (hits.size() > 1) {
        hits.sort(null);
        throw new SaeLabException(
            "layer "
                + layer
                + ": the "
                + side
                + " SAE "
                + spec
                + " matches "
                + hits.size()
                + " names in "
                + dir
                + " ("
                + hits.get(0)
                + ", "
                + hits.get(1)
                + (hits.size() > 2 ? ", ..." : "")
                + "): expected one");
      }
      at = at.resolve(hits.get(0));
    }
    return at.toString();
  }

  /**
   * The labels of a layer's input and output SAE ({@code [in, out]}, null where there is no labels
   * pattern or no output SAE); labels that are missing or do not fit warn and are left empty.
   */
  public static FeatureLabels[] labels(
      AtlasSpec spec, LayerShape shape, Consumer<String> warnings) {
    FeatureLabels[] out = new FeatureLabels[2];
    if (spec.labels() == null) {
      return out;
    }
    Sources src = Sources.fromEnvironment();
    String[] specs = {spec.labelsIn(shape.layer()), spec.labelsOut(shape.layer())};
    String[] saes = {shape.saeIn(), shape.saeOut()};
    String[] roles = {"in", "out"};
    for (int i = 0; i < 2; i++) {
      if (saes[i] == null) {
        continue;
      }
      String p = resolve(src, specs[i], shape.layer(), roles[i] + " labels");
      if (p == null) {
        warnings.accept(
            "layer "
                + shape.layer()
                + ": no labels at "
                + specs[i]
                + ", so its "
                + (i == 0 ? "input" : "output")
                + " label cells are empty");
        continue;
      }
      FeatureLabels fl = NeuronpediaLabels.read(src.labels(p));
      try (SaeDictionary s = SaeDictionary.open(src.sae(saes[i], Sources.matricesFor(roles[i])))) {
        LabelMatch.require(fl, s, warnings);
      }
      out[i] = fl;
    }
    return out;
  }

  /**
   * A layer's opened model, SAEs and prepared projections, shared by the units that use it; {@link
   * #close} gives it back (the cache closes it once evicted and unused).
   */
  public static final class Lease implements AutoCloseable {
    private final Prepared p;
    private boolean closed;

    private Lease(Prepared p) {
      this.p = p;
    }

    /** The layer's circuits (projections, engine settings). */
    public FeatureCircuits circuits() {
      return p.fc;
    }

    /** The layer's output SAE, or null when the layer has none. */
    public SaeDictionary saeOut() {
      return p.out;
    }

    @Override
    public void close() {
      synchronized (CACHE) {
        if (!closed) {
          closed = true;
          p.refs--;
          p.closeIfIdle();
        }
      }
    }
  }

  /** A prepared layer and how many leases hold it. */
  private static final class Prepared {
    final ModelWeights model;
    final SaeDictionary in;
    final SaeDictionary out;
    final FeatureCircuits fc;
    int refs;
    boolean evicted;

    Prepared(ModelWeights model, SaeDictionary in, SaeDictionary out, FeatureCircuits fc) {
      this.model = model;
      this.in = in;
      this.out = out;
      this.fc = fc;
    }

    void closeIfIdle() {
      if (evicted && refs == 0) {
        closeAll(fc, out, in, model);
      }
    }
  }

  /**
   * The prepared projections of {@code layer} for {@code spec}: from the cache, or opened and
   * projected now (after the memory estimate, as the library does), evicting the least recently
   * used layer beyond {@link #CACHED_LAYERS}.
   */
  public static Lease acquire(AtlasSpec spec, int layer) {
    boolean wantOut = spec.circuits().contains(dev.saelab.circuits.CircuitKind.OV);
    String key =
        spec.model()
            + '\n'
            + spec.saes()
            + '\n'
            + spec.qkNorm()
            + '\n'
            + spec.screen()
            + '\n'
            + wantOut
            + '\n'
            + layer;
    synchronized (CACHE) {
      Prepared p = CACHE.get(key);
      if (p == null) {
        p = prepare(spec, layer, wantOut);
        CACHE.put(key, p);
        evict();
      }
      p.refs++;
      return new Lease(p);
    }
  }

  /** Closes every cached layer not in use (e.g. at the end of a run). */
  public static void clearCache() {
    synchronized (CACHE) {
      for (Prepared p : CACHE.values()) {
        p.evicted = true;
        p.closeIfIdle();
      }
      CACHE.clear();
    }
  }

  private static void evict() {
    Iterator<Map.Entry<String, Prepared>> it = CACHE.entrySet().iterator();
    while (CACHE.size() > Math.max(1, CACHED_LAYERS) && it.hasNext()) {
      Prepared old = it.next().getValue();
      it.remove();
      old.evicted = true;
      old.closeIfIdle();
    }
  }

  private static Prepared prepare(AtlasSpec spec, int layer, boolean wantOut) {
    Sources src = Sources.fromEnvironment();
    String inSpec = resolve(src, spec.saeIn(layer), layer, "input");
    if (inSpec == null) {
      throw new SaeLabException("layer " + layer + ": no input SAE at " + spec.saeIn(layer));
    }
    // a layer without its output SAE has no OV units; its QK units still run
    String outSpec = wantOut ? resolve(src, spec.saeOut(layer), layer, "output") : null;
    ModelWeights m = ModelWeights.open(src.model(spec.model(), layer));
    SaeDictionary in = null;
    SaeDictionary out = null;
    try {
      if (layer >= m.config().nLayers()) {
        throw new IllegalArgumentException(
            "layer " + layer + ": the model has layers 0.." + (m.config().nLayers() - 1));
      }
      in = SaeDictionary.open(src.sae(inSpec, Sources.matricesFor("in")));
      out =
          outSpec == null ? null : SaeDictionary.open(src.sae(outSpec, Sources.matricesFor("out")));
      FeatureCircuits fc = FeatureCircuits.of(m.attention(layer), in, in, out, spec.qkNorm());
      if (spec.screen() != null) {
        fc.screen(spec.screen());
      }
      // the projections are made: the SAE matrices are no longer needed in memory
      in.evict();
      if (out != null) {
        out.evict();
      }
      return new Prepared(m, in, out, fc);
    } catch (RuntimeException e) {
      closeAll(out, in, m);
      throw e;
    }
  }

  private static void closeAll(AutoCloseable... cs) {
    for (AutoCloseable c : cs) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception ignored) {
        // closing what was opened; the first failure is what the user sees
      }
    }
  }
}
