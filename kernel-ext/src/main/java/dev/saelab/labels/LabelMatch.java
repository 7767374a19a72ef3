package dev.saelab.labels;

import dev.saelab.io.SaeLabException;
import dev.saelab.sae.SaeConfig;
import dev.saelab.sae.SaeDictionary;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whether Neuronpedia labels belong to an SAE, decided once for every place labels are shown beside
 * an SAE's features. Compared where both sides name it:
 *
 * <ul>
 *   <li>the model: the export's {@code modelId} against the SAE's Neuronpedia id or {@code
 *       model_name} ({@code google/gemma-2-2b}, {@code gemma_2_2b} and {@code gemma-2-2b} are one
 *       model; {@code gpt2} is {@code gpt2-small}); a Gemma Scope SAE that names no model still
 *       needs a Gemma model;
 *   <li>the Neuronpedia source: the whole id against the SAE's Neuronpedia id; otherwise its layer
 *       (the leading number, {@code 12} of {@code 12-gemmascope-res-16k}) against the SAE's layer,
 *       and its width ({@code 16k}, {@code 128}) against d_sae. A SAELens {@code resid_post} SAE of
 *       layer L also takes source layer L+1 (GPT-2's res-jb labels number the stream by the next
 *       block's input);
 *   <li>the feature indices: every labelled index must be below d_sae.
 * </ul>
 *
 * A difference refuses the labels with one line naming both and what differs. When the model or the
 * layer cannot be compared (the SAE or the export names none), the labels are accepted with a
 * one-line warning.
 */
public final class LabelMatch {
  private static final Pattern WIDTH = Pattern.compile("(\\d+)([km]?)");

  private LabelMatch() {}

  /**
   * Checks {@code labels} against an opened SAE; a warning goes to {@code warnings} once per labels
   * and SAE. Null labels or a null SAE: nothing is joined, nothing to check.
   *
   * @throws SaeLabException when the labels belong to another SAE
   */
  public static void require(FeatureLabels labels, SaeDictionary sae, Consumer<String> warnings) {
    if (labels == null || sae == null) {
      return;
    }
    String where = sae.path().toString();
    check(labels, sae.config(), where)
        .ifPresent(
            w -> {
              if (labels.warnedFor.add(where)) {
                warnings.accept(w);
              }
            });
  }

  /**
   * Checks {@code labels} against what an SAE says of itself.
   *
   * @param saeSource where the SAE was read from (named in the messages)
   * @return a warning when the SAE or the export names too little to tell, else empty
   * @throws SaeLabException when the labels belong to another SAE
   */
  public static Optional<String> check(FeatureLabels labels, SaeConfig sae, String saeSource) {
    List<String> diffs = new ArrayList<>();
    String npModel = null;
    String npSource = null;
    if (sae.neuronpediaId() != null && sae.neuronpediaId().contains("/")) {
      int slash = sae.neuronpediaId().indexOf('/');
      npModel = sae.neuronpediaId().substring(0, slash);
      npSource = sae.neuronpediaId().substring(slash + 1);
    }
    String saeModel = npModel != null ? npModel : sae.modelName();
    boolean gemmaScope = "gemma-scope".equals(sae.format());

    boolean modelChecked = false;
    if (labels.modelId() != null && saeModel != null) {
      modelChecked = true;
      if (!model(labels.modelId()).equals(model(saeModel))) {
        diffs.add("model " + labels.modelId() + " vs " + saeModel);
      }
    } else if (labels.modelId() != null && gemmaScope) {
      modelChecked = true;
      if (!model(labels.modelId()).contains("gemma")) {
        diffs.add("model " + labels.modelId() + " vs a Gemma model (Gemma Scope SAE)");
      }
    }

    boolean sourceChecked = false;
    String source = labels.sourceId();
    if (source != null && npSource != null) {
      sourceChecked = true;
      if (!source.equalsIgnoreCase(npSource)) {
        diffs.add("source " + source + " vs " + npSource);
      }
    } else if (source != null) {
      String[] parts = source.toLowerCase(Locale.ROOT).split("[-_]+");
      Integer layer =
          parts.length > 0 && parts[0].matches("\\d{1,4}") ? Integer.valueOf(parts[0]) : null;
      if (layer != null && sae.layer() >= 0) {
        sourceChecked = true;
        boolean nextInput =
            "saelens".equals(sae.format())
                && sae.hookName() != null
                && sae.hookName().contains("resid_post")
                && layer == sae.layer() + 1;
        if (layer != sae.layer() && !nextInput) {
          diffs.add(
              "layer "
                  + layer
                  + " (source "
                  + source
                  + ") vs "
                  + sae.layer()
                  + (sae.hookName() == null ? "" : " (" + sae.hookName() + ")"));
        }
      }
      for (int i = layer == null ? 0 : 1; i < parts.length; i++) {
        Matcher m = WIDTH.matcher(parts[i]);
        if (m.matches()) {
          if (!widthFits(Long.parseLong(m.group(1)), m.group(2), sae.dSae())) {
            diffs.add("width " + parts[i] + " (source " + source + ") vs d_sae " + sae.dSae());
          }
          break;
        }
      }
    }

    if (labels.maxIndex() >= sae.dSae()) {
      diffs.add("feature index " + labels.maxIndex() + " >= d_sae " + sae.dSae());
    }
    String labelsName = "labels " + labels.origin() + " (" + id(labels) + ")";
    String saeName = "SAE " + saeSource + " (" + describe(sae) + ")";
    if (!diffs.isEmpty()) {
      throw new SaeLabException(
          labelsName + " do not belong to " + saeName + ": " + String.join("; ", diffs));
    }
    if (modelChecked && sourceChecked) {
      return Optional.empty();
    }
    List<String> saeLacks = new ArrayList<>();
    List<String> labelsLack = new ArrayList<>();
    if (!modelChecked) {
      (labels.modelId() == null ? labelsLack : saeLacks).add("model");
    }
    if (!sourceChecked) {
      (source == null || sae.layer() >= 0 ? labelsLack : saeLacks)
          .add(source == null ? "source" : "layer");
    }
    List<String> why = new ArrayList<>();
    if (!saeLacks.isEmpty()) {
      why.add("the SAE names no " + String.join(" or ", saeLacks));
    }
    if (!labelsLack.isEmpty()) {
      why.add("the export names no " + String.join(" or ", labelsLack));
    }
    return Optional.of(
        "warning: cannot confirm that "
            + labelsName
            + " belong to "
            + saeName
            + ": "
            + String.join(" and ", why)
            + " (checked: feature indices < d_sae "
            + sae.dSae()
            + ")");
  }

  /**
   * A model id in one form: lower case, no {@code hf://} or organisation, no separators; gpt2 →
   * gpt2small.
   */
  static String model(String id) {
    String s = id.strip().toLowerCase(Locale.ROOT);
    s = s.startsWith("hf://") ? s.substring(5) : s;
    s = s.substring(s.lastIndexOf('/') + 1).replaceAll("[-_. ]", "");
    return s.equals("gpt2") ? "gpt2small" : s;
  }

  /**
   * {@code 128} is exactly 128 features; {@code 16k} and {@code 65k} are 16384 and 65536; {@code
   * 1m} is 2^20.
   */
  private static boolean widthFits(long n, String unit, long dSae) {
    return switch (unit) {
      case "k" -> dSae / 1000 == n || Math.round(dSae / 1024.0) == n;
      case "m" -> dSae / 1_000_000 == n || Math.round(dSae / 1048576.0) == n;
      default -> dSae == n;
    };
  }

  private static String id(FeatureLabels l) {
    return (l.modelId() == null ? "?" : l.modelId())
        + "/"
        + (l.sourceId() == null ? "?" : l.sourceId());
  }

  private static String describe(SaeConfig c) {
    String model =
        c.neuronpediaId() != null
            ? c.neuronpediaId()
            : c.modelName() != null
                ? c.modelName()
                : "gemma-scope".equals(c.format()) ? "Gemma Scope" : "no model named";
    return model + (c.layer() >= 0 ? ", layer " + c.layer() : "") + ", d_sae " + c.dSae();
  }
}
