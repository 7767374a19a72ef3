package dev.saelab.api;

import dev.saelab.io.Backend;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;

/**
 * The notebook entry point: load SAEs, models and labels, compute feature tables, run magics from
 * Java.
 *
 * <pre>
 * SaeLab.init();                                   // IJava and rapaio; JJava installs itself
 * var model = SaeLab.model("datasets/tiny-gemma2");
 * var sae0  = SaeLab.sae("datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12");
 * var sae1  = SaeLab.sae("datasets/tiny-gemma-scope/layer_1/width_96/average_l0_9");
 * FeatureTable qk = SaeLab.circuits(model, 1).saeIn(sae0).heads(1).top(10).qk();
 * FeatureTable ov = SaeLab.circuits(model, 1).saeIn(sae0).saeOut(sae1).top(10).ov();
 * </pre>
 *
 * Every magic has this Java form too: {@code SaeLab.magic("qk --heads 1 --top 10")} is {@code %qk
 * --heads 1 --top 10}.
 */
public final class SaeLab {
  private static volatile Frontend frontend;

  private SaeLab() {}

  /**
   * Connects to the running kernel (renderers, magics, progress bars) and starts ND4J. Idempotent;
   * JJava calls it through its Extension service, IJava and rapaio users call it once.
   *
   * @return the kernel adapter installed: "jjava", "ijava", "rapaio" or "none"
   */
  public static String init() {
    Backend.init();
    return frontend().install();
  }

  /** Opens an SAE: a Gemma Scope folder or {@code params.npz}, or a SAELens folder. */
  public static SaeDictionary sae(String path) {
    return SaeDictionary.open(dev.saelab.hub.Sources.fromEnvironment().sae(path));
  }

  /** Opens a model folder (config.json + safetensors); layers load lazily. */
  public static ModelWeights model(String path) {
    return ModelWeights.open(dev.saelab.hub.Sources.fromEnvironment().model(path, null));
  }

  /**
   * Reads Neuronpedia labels: an old JSON export, or a bulk-export folder of {@code
   * batch-N.jsonl.gz}.
   */
  public static FeatureLabels labels(String path) {
    return NeuronpediaLabels.read(dev.saelab.hub.Sources.fromEnvironment().labels(path));
  }

  /**
   * An SAE by release name and id from the registry, e.g. {@code
   * sae("gemma-scope-2b-pt-res-canonical", "layer_12/width_16k/canonical")}; downloaded into the
   * Hugging Face cache on first use.
   */
  public static SaeDictionary sae(String release, String id) {
    return sae(release + "/" + id);
  }

  /**
   * A model with one layer's attention: a local folder, a registry alias ({@code gemma-2-2b}) or
   * {@code hf://ORG/NAME[@REVISION]}; for remote models only that layer's attention tensors are
   * fetched.
   */
  public static ModelWeights model(String spec, int layer) {
    return ModelWeights.open(dev.saelab.hub.Sources.fromEnvironment().model(spec, layer));
  }

  /** Starts a QK/OV query on one layer of a model. */
  public static CircuitQuery circuits(ModelWeights model, int layer) {
    return new CircuitQuery(model, layer);
  }

  /**
   * Runs a magic line from Java, as the kernels' {@code %name args} does: {@code SaeLab.magic("qk
   * --heads 1")}. The leading {@code %} is optional. Returns what the magic returns.
   */
  @SuppressWarnings("unchecked")
  public static <T> T magic(String line) {
    return (T) frontend().magic(line);
  }

  /** The list of magics with examples. */
  public static String help() {
    return frontend().help();
  }

  private static Frontend frontend() {
    Frontend f = frontend;
    if (f == null) {
      f =
          frontend =
              java.util.ServiceLoader.load(Frontend.class, SaeLab.class.getClassLoader())
                  .findFirst()
                  .orElseThrow(
                      () ->
                          new IllegalStateException(
                              "SAE Lab's notebook front-end is missing from the class path"
                                  + " (META-INF/services/dev.saelab.api.Frontend)"));
    }
    return f;
  }

  /** Displays an object now (tables, plots) in the running notebook. */
  public static void display(Object o) {
    Notebook.display(o);
  }
}
