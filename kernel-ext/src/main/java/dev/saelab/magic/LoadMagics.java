package dev.saelab.magic;

import dev.saelab.cli.HelpOption;
import dev.saelab.cli.InputOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * The notebook-only loading magics: {@code %model}, {@code %sae}, {@code %labels}. Each takes one
 * path for its main role and also every loading flag of the analysis commands ({@code --layer},
 * {@code --sae-out}, ...), loads what they name into the session and returns the object loaded.
 */
final class LoadMagics {
  private LoadMagics() {}

  /** Base: the loading flags and the positional path. */
  abstract static class Load {
    @Mixin HelpOption help;
    @Mixin InputOptions inputs;

    @Parameters(
        arity = "0..1",
        paramLabel = "PATH",
        description = "what to load (a local path, registry name or" + " hf://ORG/REPO[@REV]/PATH)")
    String path;

    /** The flag the positional path stands for. */
    abstract String flag();
  }

  @Command(
      name = "model",
      description =
          "Load a model (config.json + safetensors; layers load lazily) and, with"
              + " --layer, choose the layer the other magics use; returns ModelWeights.",
      footer = {"", "Examples:", "  %model datasets/tiny-gemma2 --layer 1"})
  static final class Model extends Load {
    @Override
    String flag() {
      return "--model";
    }
  }

  @Command(
      name = "sae",
      description =
          "Load an SAE (Gemma Scope folder or params.npz, SAELens folder, release name) for the"
              + " layer's input stream; --sae-key and --sae-out load the key-side and output SAEs;"
              + " returns the SaeDictionary loaded last.",
      footer = {
        "",
        "Examples:",
        "  %sae datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12"
            + " --sae-out datasets/tiny-gemma-scope/layer_1/width_96/average_l0_9"
      })
  static final class Sae extends Load {
    @Override
    String flag() {
      return "--sae-in";
    }
  }

  @Command(
      name = "labels",
      description =
          "Load Neuronpedia labels (old JSON export or a bulk-export folder of batch-N.jsonl.gz)"
              + " for the input SAE; --labels-key and --labels-out for the key and output SAEs;"
              + " labels that belong to another dictionary are refused when a table is computed;"
              + " returns the FeatureLabels loaded last.",
      footer = {
        "",
        "Examples:",
        "  %labels datasets/tiny-neuronpedia/tiny-gemma2_0-tinyscope-res-128.json"
            + " --labels-out datasets/tiny-neuronpedia/v1/tiny-gemma2/1-tinyscope-res-96"
      })
  static final class Labels extends Load {
    @Override
    String flag() {
      return "--labels-in";
    }
  }
}
