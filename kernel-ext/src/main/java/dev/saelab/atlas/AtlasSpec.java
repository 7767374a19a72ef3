package dev.saelab.atlas;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.QkNorm;
import dev.saelab.linalg.RankBy;
import dev.saelab.linalg.Screen;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What an atlas computes: a model, its layers, one SAE per residual stream (a pattern with {@code
 * {L}}), optional labels, the circuits and the table options. Immutable and serializable (a cluster
 * engine ships it to its workers).
 *
 * <p>Patterns: {@code {L}} stands for the attention layer whose <em>input</em> stream the
 * dictionary reads; {@code {L-1}} and {@code {L+1}} (any offset) shift it, so Gemma Scope's
 * resid_post-numbered folders read {@code layer_{L-1}/...}. Layer L's table uses the pattern at L
 * on the input side (query, key, value) and at L+1 on the output side (resid_post L = resid_pre
 * L+1). A {@code *} in a local path segment matches one existing name (Gemma Scope folders differ
 * in width and L0 from layer to layer).
 *
 * @param model the model (folder, registry alias or hf://ORG/NAME)
 * @param layers {@code all} or a list such as {@code 3,7-12}
 * @param saes the SAE pattern (a path or release id with {@code {L}})
 * @param labels the labels pattern (same substitution), or null
 * @param circuits QK, OV or both
 * @param topK entries per (layer, head, circuit) table
 * @param perFeature partners kept per feature, head and role (0: no partner tables)
 * @param rowsPerUnit rows of the left factor per work unit (0: chosen from the shapes, {@link
 *     AtlasPlan#defaultRows})
 * @param rankBy ranking key
 * @param screen how tiles are screened (null: this JVM's default); the tables are the same
 * @param qkNorm how QK passes the model's q/k norms (models without them ignore it)
 * @param excludeSelf drop i = j pairs in QK (one SAE on both sides)
 * @param queryScale multiply QK values by the model's query scale
 * @param summaries also compute the head-level summaries (summed circuits, singular spectra)
 */
public record AtlasSpec(
    String model,
    String layers,
    String saes,
    String labels,
    Set<CircuitKind> circuits,
    int topK,
    int perFeature,
    int rowsPerUnit,
    RankBy rankBy,
    Screen screen,
    QkNorm qkNorm,
    boolean excludeSelf,
    boolean queryScale,
    boolean summaries)
    implements Serializable {

  private static final long serialVersionUID = 1L;

  private static final Pattern PLACEHOLDER = Pattern.compile("\\{L([+-]\\d+)?}");

  /** Checks the components; every message names the argument and what was expected. */
  public AtlasSpec {
    if (model == null || model.isBlank()) {
      throw new IllegalArgumentException("atlas: expected a model");
    }
    if (saes == null || saes.isBlank()) {
      throw new IllegalArgumentException("atlas: expected an SAE pattern");
    }
    requirePlaceholder(saes, "SAE pattern");
    if (labels != null) {
      requirePlaceholder(labels, "labels pattern");
    }
    layers = layers == null ? "all" : layers.strip();
    parseLayers(layers, Integer.MAX_VALUE); // syntax only; the range is checked against the model
    if (circuits == null || circuits.isEmpty()) {
      throw new IllegalArgumentException("circuits: expected qk, ov or both");
    }
    circuits = java.util.Collections.unmodifiableSet(EnumSet.copyOf(circuits));
    if (topK < 1) {
      throw new IllegalArgumentException(
          "top-k " + topK + ": expected a positive number of entries");
    }
    if (perFeature < 0) {
      throw new IllegalArgumentException(
          "partners per feature " + perFeature + ": expected 0 (none) or a positive number");
    }
    if (rowsPerUnit < 0) {
      throw new IllegalArgumentException(
          "rows per unit " + rowsPerUnit + ": expected 0 (automatic) or a positive number");
    }
    rankBy = rankBy == null ? RankBy.ABS : rankBy;
    qkNorm = qkNorm == null ? QkNorm.EXACT : qkNorm;
  }

  /**
   * A spec with the defaults: all layers, QK and OV, top 1000, no partners, automatic units, by
   * |value|, exact q/k norm, self pairs kept, raw scale, with summaries.
   */
  public static AtlasSpec of(String model, String saes) {
    return new AtlasSpec(
        model,
        "all",
        saes,
        null,
        EnumSet.allOf(CircuitKind.class),
        1000,
        0,
        0,
        RankBy.ABS,
        null,
        QkNorm.EXACT,
        false,
        false,
        true);
  }

  /** A copy for {@code l} ({@code all} or {@code 3,7-12}). */
  public AtlasSpec withLayers(String l) {
    return new AtlasSpec(
        model,
        l,
        saes,
        labels,
        circuits,
        topK,
        perFeature,
        rowsPerUnit,
        rankBy,
        screen,
        qkNorm,
        excludeSelf,
        queryScale,
        summaries);
  }

  /** A copy with the labels pattern {@code p} (null: none). */
  public AtlasSpec withLabels(String p) {
    return new AtlasSpec(
        model,
        layers,
        saes,
        p,
        circuits,
        topK,
        perFeature,
        rowsPerUnit,
        rankBy,
        screen,
        qkNorm,
        excludeSelf,
        queryScale,
        summaries);
  }

  /** A copy computing {@code c}. */
  public AtlasSpec withCircuits(Set<CircuitKind> c) {
    return new AtlasSpec(
        model,
        layers,
        saes,
        labels,
        c,
        topK,
        perFeature,
        rowsPerUnit,
        rankBy,
        screen,
        qkNorm,
        excludeSelf,
        queryScale,
        summaries);
  }

  /** A copy keeping {@code k} entries per table. */
  public AtlasSpec withTopK(int k) {
    return new AtlasSpec(
        model,
        layers,
        saes,
        labels,
        circuits,
        k,
        perFeature,
        rowsPerUnit,
        rankBy,
        screen,
        qkNorm,
        excludeSelf,
        queryScale,
        summaries);
  }

  /** A copy keeping {@code k2} partners per feature (0: none). */
  public AtlasSpec withPerFeature(int k2) {
    return new AtlasSpec(
        model,
        layers,
        saes,
        labels,
        circuits,
        topK,
        k2,
        rowsPerUnit,
        rankBy,
        screen,
        qkNorm,
        excludeSelf,
        queryScale,
        summaries);
  }

  /** A copy with {@code n} rows per work unit (0: automatic). */
  public AtlasSpec withRowsPerUnit(int n) {
    return new AtlasSpec(
        model,
        layers,
        saes,
        labels,
        circuits,
        topK,
        perFeature,
        n,
        rankBy,
        screen,
        qkNorm,
        excludeSelf,
        queryScale,
        summaries);
  }

  /** A copy ranked by {@code r}. */
  public AtlasSpec withRankBy(RankBy r) {
    return new AtlasSpec(
        model,
        layers,
        saes,
        labels,
        circuits,
        topK,
        perFeature,
        rowsPerUnit,
        r,
        screen,
        qkNorm,
        excludeSelf,
        queryScale,
        summaries);
  }

  /** A copy screening with {@code s} (null: default). */
  public AtlasSpec withScreen(Screen s) {
    return new AtlasSpec(
        model,
        layers,
        saes,
        labels,
        circuits,
        topK,
        perFeature,
        rowsPerUnit,
        rankBy,
        s,
        qkNorm,
        excludeSelf,
        queryScale,
        summaries);
  }

  /** A copy passing q/k norms as {@code q}. */
  public AtlasSpec withQkNorm(QkNorm q) {
    return new AtlasSpec(
        model,
        layers,
        saes,
        labels,
        circuits,
        topK,
        perFeature,
        rowsPerUnit,
        rankBy,
        screen,
        q,
        excludeSelf,
        queryScale,
        summaries);
  }

  /** A copy with QK self pairs excluded (or kept). */
  public AtlasSpec withExcludeSelf(boolean e) {
    return new AtlasSpec(
        model,
        layers,
        saes,
        labels,
        circuits,
        topK,
        perFeature,
        rowsPerUnit,
        rankBy,
        screen,
        qkNorm,
        e,
        queryScale,
        summaries);
  }

  /** A copy with QK values multiplied by the query scale (or raw). */
  public AtlasSpec withQueryScale(boolean q) {
    return new AtlasSpec(
        model,
        layers,
        saes,
        labels,
        circuits,
        topK,
        perFeature,
        rowsPerUnit,
        rankBy,
        screen,
        qkNorm,
        excludeSelf,
        q,
        summaries);
  }

  /** A copy with or without the head-level summaries. */
  public AtlasSpec withSummaries(boolean s) {
    return new AtlasSpec(
        model,
        layers,
        saes,
        labels,
        circuits,
        topK,
        perFeature,
        rowsPerUnit,
        rankBy,
        screen,
        qkNorm,
        excludeSelf,
        queryScale,
        s);
  }

  /** The SAE for the input stream of attention layer {@code layer} (the pattern at L). */
  public String saeIn(int layer) {
    return substitute(saes, layer);
  }

  /** The SAE for the output stream of attention layer {@code layer} (the pattern at L+1). */
  public String saeOut(int layer) {
    return substitute(saes, layer + 1);
  }

  /** The labels of the input SAE of {@code layer}, or null without a labels pattern. */
  public String labelsIn(int layer) {
    return labels == null ? null : substitute(labels, layer);
  }

  /** The labels of the output SAE of {@code layer}, or null without a labels pattern. */
  public String labelsOut(int layer) {
    return labels == null ? null : substitute(labels, layer + 1);
  }

  /** The layers this spec names, checked against a model with {@code nLayers} layers. */
  public int[] layerList(int nLayers) {
    return parseLayers(layers, nLayers);
  }

  /**
   * {@code pattern} with each {@code {L}}, {@code {L-1}}, {@code {L+2}}... replaced by {@code
   * layer} plus its offset.
   */
  public static String substitute(String pattern, int layer) {
    Matcher m = PLACEHOLDER.matcher(pattern);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      int off = m.group(1) == null ? 0 : Integer.parseInt(m.group(1));
      m.appendReplacement(sb, Integer.toString(layer + off));
    }
    m.appendTail(sb);
    return sb.toString();
  }

  private static void requirePlaceholder(String pattern, String what) {
    if (!PLACEHOLDER.matcher(pattern).find()) {
      throw new IllegalArgumentException(
          what
              + " "
              + pattern
              + ": expected {L} (or {L-1}, {L+1}) where the layer number goes, one dictionary per"
              + " stream");
    }
  }

  /** Parses {@code all} or {@code 3,7-12} into sorted distinct layers below {@code nLayers}. */
  static int[] parseLayers(String s, int nLayers) {
    TreeSet<Integer> out = new TreeSet<>();
    if (s.equals("all")) {
      if (nLayers == Integer.MAX_VALUE) {
        return new int[0];
      }
      for (int l = 0; l < nLayers; l++) {
        out.add(l);
      }
    } else {
      for (String part : s.split(",", -1)) {
        String p = part.strip();
        Matcher m = Pattern.compile("(\\d+)(?:-(\\d+))?").matcher(p);
        if (!m.matches()) {
          throw new IllegalArgumentException(
              "layers " + s + ": expected all or a list such as 3,7-12");
        }
        int a = Integer.parseInt(m.group(1));
        int b = m.group(2) == null ? a : Integer.parseInt(m.group(2));
        if (b < a) {
          throw new IllegalArgumentException(
              "layers " + s + ": range " + p + " runs backwards (expected low-high)");
        }
        if (b >= nLayers) {
          throw new IllegalArgumentException(
              "layers " + s + ": the model has layers 0.." + (nLayers - 1));
        }
        for (int l = a; l <= b; l++) {
          out.add(l);
        }
      }
    }
    List<Integer> l = new ArrayList<>(out);
    return l.stream().mapToInt(Integer::intValue).toArray();
  }
}
