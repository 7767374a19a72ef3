package dev.saelab.cli;

import picocli.CommandLine.Option;

/**
 * The loading flags every analysis command shares, on the command line and in the magics: {@code
 * --model}, {@code --layer}, {@code --sae-in}, {@code --sae-key}, {@code --sae-out}, {@code
 * --labels-in}, {@code --labels-key}, {@code --labels-out}. Each path may be a local file or
 * folder, a registry name or {@code hf://ORG/REPO[@REV]}.
 */
public final class InputOptions {
  @Option(
      names = "--model",
      paramLabel = "MODEL",
      description =
          "model folder (config.json + safetensors), registry alias (gemma-2-2b) or hf://ORG/NAME")
  String model;

  @Option(names = "--layer", paramLabel = "L", description = "the attention layer")
  Integer layer;

  @Option(
      names = "--sae-in",
      paramLabel = "SAE",
      description =
          "SAE on the layer's input stream (query, key and value side): Gemma Scope folder or"
              + " params.npz, SAELens folder, or a release name")
  String saeIn;

  @Option(
      names = "--sae-key",
      paramLabel = "SAE",
      description = "a different SAE (same stream) for the key side")
  String saeKey;

  @Option(
      names = "--sae-out",
      paramLabel = "SAE",
      description = "SAE on the layer's output stream (OV output side)")
  String saeOut;

  @Option(
      names = "--labels-in",
      paramLabel = "LABELS",
      description =
          "Neuronpedia labels of the input SAE (old JSON export, or a bulk-export folder)")
  String labelsIn;

  @Option(names = "--labels-key", paramLabel = "LABELS", description = "labels of the key SAE")
  String labelsKey;

  @Option(names = "--labels-out", paramLabel = "LABELS", description = "labels of the output SAE")
  String labelsOut;

  /** A copy with one loading flag ({@code --model}, {@code --sae-in}, ...) set to {@code value}. */
  public InputOptions with(String flag, String value) {
    InputOptions o = new InputOptions();
    o.model = model;
    o.layer = layer;
    o.saeIn = saeIn;
    o.saeKey = saeKey;
    o.saeOut = saeOut;
    o.labelsIn = labelsIn;
    o.labelsKey = labelsKey;
    o.labelsOut = labelsOut;
    switch (flag) {
      case "--model" -> o.model = value;
      case "--sae-in" -> o.saeIn = value;
      case "--labels-in" -> o.labelsIn = value;
      default -> throw new IllegalArgumentException("not a path flag: " + flag);
    }
    return o;
  }

  /** The model path, or null. */
  public String model() {
    return model;
  }

  /** The layer, or null. */
  public Integer layer() {
    return layer;
  }

  /** The SAE paths by role ("in", "key", "out"); null where not given. */
  public String sae(String role) {
    return switch (role) {
      case "in" -> saeIn;
      case "key" -> saeKey;
      default -> saeOut;
    };
  }

  /** The label paths by role ("in", "key", "out"); null where not given. */
  public String labels(String role) {
    return switch (role) {
      case "in" -> labelsIn;
      case "key" -> labelsKey;
      default -> labelsOut;
    };
  }
}
