package dev.saelab;

import dev.saelab.kernel.Kernels;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.magic.SaeLabMagics;
import dev.saelab.model.ModelWeights;
import dev.saelab.nd.Backend;
import dev.saelab.notebook.CircuitQuery;
import dev.saelab.notebook.Notebook;
import dev.saelab.sae.SaeDictionary;
import java.nio.file.Path;

/**
 * The notebook entry point: load SAEs, models and labels, compute feature tables, run magics from Java.
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
 * Every magic has this Java form too: {@code SaeLab.magic("qk --heads 1 --top 10")} is {@code %qk --heads 1 --top 10}.
 */
public final class SaeLab {
  private static final SaeLabMagics MAGICS = new SaeLabMagics();

  private SaeLab() {}

  /**
   * Connects to the running kernel (renderers, magics, progress bars) and starts ND4J. Idempotent; JJava calls it
   * through its Extension service, IJava and rapaio users call it once.
   *
   * @return the kernel adapter installed: "jjava", "ijava", "rapaio" or "none"
   */
  public static String init() {
    Backend.init();
    return Kernels.install();
  }

  /** Opens an SAE: a Gemma Scope folder or {@code params.npz}, or a SAELens folder. */
  public static SaeDictionary sae(String path) {
    return SaeDictionary.open(dev.saelab.hub.Sources.fromEnvironment().sae(path));
  }

  /** Opens a model folder (config.json + safetensors); layers load lazily. */
  public static ModelWeights model(String path) {
    return ModelWeights.open(dev.saelab.hub.Sources.fromEnvironment().model(path, null));
  }

  /** Reads Neuronpedia labels: an old JSON export, or a bulk-export folder of {@code batch-N.jsonl.gz}. */
  public static FeatureLabels labels(String path) {
    return NeuronpediaLabels.read(dev.saelab.hub.Sources.fromEnvironment().labels(path));
  }

  /**
   * An SAE by release name and id from the registry, e.g. {@code sae("gemma-scope-2b-pt-res-canonical",
   * "layer_12/width_16k/canonical")}; downloaded into the Hugging Face cache on first use.
   */
  public static SaeDictionary sae(String release, String id) {
    return sae(release + "/" + id);
  }

  /**
   * A model with one layer's attention: a local folder, a registry alias ({@code gemma-2-2b}) or
   * {@code hf://ORG/NAME[@REVISION]}; for remote models only that layer's attention tensors are fetched.
   */
  public static ModelWeights model(String spec, int layer) {
    return ModelWeights.open(dev.saelab.hub.Sources.fromEnvironment().model(spec, layer));
  }

  /** Starts a QK/OV query on one layer of a model. */
  public static CircuitQuery circuits(ModelWeights model, int layer) {
    return new CircuitQuery(model, layer);
  }

  /**
   * Runs a magic line from Java, as the kernels' {@code %name args} does: {@code SaeLab.magic("qk --heads 1")}.
   * The leading {@code %} is optional. Returns what the magic returns.
   */
  @SuppressWarnings("unchecked")
  public static <T> T magic(String line) {
    String s = line.strip();
    if (s.startsWith("%")) {
      s = s.substring(1);
    }
    java.util.List<String> words = SaeLabMagics.split(s);
    if (words.isEmpty()) {
      throw new IllegalArgumentException("empty magic line; try SaeLab.magic(\"saelab help\")");
    }
    return (T) MAGICS.eval(words.get(0), words.subList(1, words.size()));
  }

  /** The magic engine shared by every kernel adapter and {@link #magic}. */
  public static SaeLabMagics magics() {
    return MAGICS;
  }

  /** The list of magics with examples. */
  public static String help() {
    return SaeLabMagics.help("saelab");
  }

  /** Displays an object now (tables, plots) in the running notebook. */
  public static void display(Object o) {
    Notebook.display(o);
  }
}
