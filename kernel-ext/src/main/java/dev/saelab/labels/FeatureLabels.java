package dev.saelab.labels;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Neuronpedia labels of one SAE's features. Several explanations per feature are normal; {@link
 * #label(int)} picks one by the {@link Policy} given at load time and {@link #all(int)} keeps every
 * one reachable.
 *
 * <pre>
 * jshell&gt; var labels = NeuronpediaLabels.read(Path.of("../shared/data/neuronpedia/gemma-2-2b_12-gemmascope-res-16k.json"))
 * jshell&gt; labels.label(0)
 * $2 ==&gt; Optional[references to labeled data ...]
 * </pre>
 */
public final class FeatureLabels {
  /** How one explanation is chosen when a feature has several. */
  public enum Policy {
    /** The first in the export's order. */
    FIRST,
    /** The newest by {@code createdAt} (ties: the first); the default. */
    NEWEST
  }

  private final String modelId;
  private final String sourceId;
  private final String origin;
  private final TreeMap<Integer, List<Explanation>> byIndex;
  private final Policy policy;

  /** SAEs {@link LabelMatch} already warned about for these labels: the warning is given once. */
  final java.util.Set<String> warnedFor = java.util.concurrent.ConcurrentHashMap.newKeySet();

  FeatureLabels(
      String modelId,
      String sourceId,
      String origin,
      Map<Integer, List<Explanation>> byIndex,
      Policy policy) {
    this.modelId = modelId;
    this.sourceId = sourceId;
    this.origin = origin;
    this.byIndex = new TreeMap<>(byIndex);
    this.policy = policy;
  }

  /** Neuronpedia model id, e.g. {@code gemma-2-2b} (null if the export did not say). */
  public String modelId() {
    return modelId;
  }

  /** Neuronpedia source id, e.g. {@code 12-gemmascope-res-16k}. */
  public String sourceId() {
    return sourceId;
  }

  /** Where the labels were read from. */
  public String origin() {
    return origin;
  }

  /** The chosen label of feature {@code i}, if any. */
  public Optional<String> label(int i) {
    return explanation(i).map(Explanation::description);
  }

  /** The chosen explanation of feature {@code i}, if any. */
  public Optional<Explanation> explanation(int i) {
    List<Explanation> all = byIndex.get(i);
    if (all == null || all.isEmpty()) {
      return Optional.empty();
    }
    if (policy == Policy.NEWEST) {
      return all.stream()
          .max(Comparator.comparing(Explanation::createdAt).thenComparing(e -> -all.indexOf(e)));
    }
    return Optional.of(all.get(0));
  }

  /** The chosen label or "" when unlabelled. */
  public String labelOrEmpty(int i) {
    return label(i).orElse("");
  }

  /** Every explanation of feature {@code i}, in export order. */
  public List<Explanation> all(int i) {
    return Collections.unmodifiableList(byIndex.getOrDefault(i, List.of()));
  }

  /** Number of explanations read. */
  public int explanationCount() {
    return byIndex.values().stream().mapToInt(List::size).sum();
  }

  /** Number of distinct labelled features. */
  public int featureCount() {
    return byIndex.size();
  }

  /** Largest labelled index, or -1. */
  public int maxIndex() {
    return byIndex.isEmpty() ? -1 : byIndex.lastKey();
  }

  /** Features with more than one explanation. */
  public List<Integer> duplicated() {
    List<Integer> out = new ArrayList<>();
    byIndex.forEach(
        (i, l) -> {
          if (l.size() > 1) {
            out.add(i);
          }
        });
    return out;
  }

  /** Indices in {@code [0, width)} with no explanation (width: the SAE's d_sae, or maxIndex+1). */
  public List<Integer> missing(int width) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < width; i++) {
      if (!byIndex.containsKey(i)) {
        out.add(i);
      }
    }
    return out;
  }

  /** The feature's Neuronpedia page, when model and source are known. */
  public Optional<String> url(int i) {
    return modelId == null || sourceId == null
        ? Optional.empty()
        : Optional.of("https://www.neuronpedia.org/" + modelId + "/" + sourceId + "/" + i);
  }

  /** A one-paragraph summary: counts, duplicates and gaps. */
  public String summary() {
    List<Integer> dup = duplicated();
    List<Integer> gaps = missing(maxIndex() + 1);
    return "labels "
        + (modelId == null ? "?" : modelId)
        + "/"
        + (sourceId == null ? "?" : sourceId)
        + ": "
        + explanationCount()
        + " explanations of "
        + featureCount()
        + " features (max index "
        + maxIndex()
        + "), "
        + dup.size()
        + " with several explanations"
        + (dup.isEmpty() ? "" : " e.g. " + head(dup))
        + ", "
        + gaps.size()
        + " gaps below the max"
        + (gaps.isEmpty() ? "" : " e.g. " + head(gaps))
        + "; policy "
        + policy;
  }

  private static String head(List<Integer> l) {
    return l.subList(0, Math.min(5, l.size())).toString();
  }

  /** Neuronpedia's {@code modelId/sourceId} when the export names them, else null. */
  public String neuronpediaSource() {
    return modelId == null && sourceId == null
        ? null
        : (modelId == null ? "?" : modelId) + "/" + (sourceId == null ? "?" : sourceId);
  }

  /**
   * One line: {@code FeatureLabels gemma-2-2b/12-gemmascope-res-16k: 130 explanations of 128
   * features (max index 127) from PATH}.
   */
  @Override
  public String toString() {
    String src = neuronpediaSource();
    return "FeatureLabels "
        + (src == null ? "(Neuronpedia source unknown)" : src)
        + ": "
        + explanationCount()
        + " explanations of "
        + featureCount()
        + " features (max index "
        + maxIndex()
        + ") from "
        + origin;
  }
}
