package dev.saelab.cli;

import dev.saelab.forward.Tokenizer;
import dev.saelab.model.ModelWeights;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The input of the forward-pass commands: {@code --model}, {@code --token-ids}, {@code --text}. */
public final class ForwardOptions {
  @Option(
      names = "--model",
      paramLabel = "DIR",
      description =
          "model folder (config.json + safetensors); a forward pass reads every layer up to the"
              + " last one needed")
  Path model;

  @Option(
      names = "--token-ids",
      paramLabel = "ID,...",
      converter = Converters.TokenIdsConverter.class,
      description = "the input as token ids, e.g. 2,17,5 (at most the model's context length)")
  Converters.Ints tokenIds;

  @Option(
      names = "--text",
      paramLabel = "TEXT",
      description =
          "the input as text, tokenised with the model folder's tokenizer.json (special tokens as"
              + " its post-processor adds them: Gemma's <bos> first, nothing for GPT-2); instead"
              + " of --token-ids")
  String text;

  @Option(
      names = "--activations",
      paramLabel = "FILE",
      description =
          "activations recorded elsewhere (saelab run's safetensors, or a TransformerLens cache"
              + " saved as safetensors or npz, keyed by hook names) instead of running the model:"
              + " --model then needs only the layer's weights (hf:// and registry names work)")
  Path activations;

  private int[] ids;
  private dev.saelab.forward.ActivationFile file;

  /** Whether the input is a file of recorded activations ({@code --activations}). */
  public boolean recorded() {
    return activations != null;
  }

  /**
   * The activation {@code hook} from {@code --activations}: one line naming the file, the hook and
   * the hooks present when it lacks it.
   */
  public org.nd4j.linalg.api.ndarray.INDArray recorded(String hook) {
    if (file == null) {
      file = dev.saelab.forward.ActivationFile.open(activations);
    }
    try {
      return file.get(hook);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--activations " + e.getMessage(), e);
    }
  }

  /**
   * The recorded activations {@code hooks} from {@code --activations}, as a forward pass would
   * return them.
   */
  public dev.saelab.forward.Activations recorded(java.util.List<String> hooks) {
    java.util.Map<String, org.nd4j.linalg.api.ndarray.INDArray> m = new java.util.LinkedHashMap<>();
    for (String h : hooks) {
      m.put(h, recorded(h));
    }
    return new dev.saelab.forward.Activations(ids != null ? ids : file.tokenIds(), m);
  }

  /**
   * For {@code --activations}: the model's layer {@code layer} only (a local folder, a registry
   * name or hf://), and the token ids the file records (or 0..T−1 from {@code rows} positions when
   * it records none).
   */
  ModelWeights openLayer(int layer, String positionsHook) {
    if (model == null) {
      throw new IllegalArgumentException("needs --model MODEL");
    }
    if (tokenIds != null || text != null) {
      throw new IllegalArgumentException("give --activations FILE or --token-ids/--text, not both");
    }
    ModelWeights m =
        ModelWeights.open(dev.saelab.hub.Sources.fromEnvironment().model(model.toString(), layer));
    try {
      positions(positionsHook);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
    return m;
  }

  /** Sets the ids from the file, or 0..T−1 from the positions of {@code hook} when it has none. */
  void positions(String hook) {
    org.nd4j.linalg.api.ndarray.INDArray x = recorded(hook);
    int[] fromFile = file.tokenIds();
    if (fromFile.length > 0) {
      ids = fromFile;
      return;
    }
    int t =
        (int)
            (hook.endsWith("hook_attn_scores") || hook.endsWith("hook_pattern")
                ? x.size(1)
                : x.size(0));
    ids = java.util.stream.IntStream.range(0, t).toArray();
  }

  /** Closes the activation file, if one was opened. */
  void closeFile() {
    if (file != null) {
      file.close();
      file = null;
    }
  }

  /**
   * Opens the model and, for {@code --text}, tokenises it; one line naming the flag when something
   * is missing.
   */
  ModelWeights open() {
    if (model == null) {
      throw new IllegalArgumentException("needs --model DIR");
    }
    if (activations != null) {
      throw new IllegalArgumentException(
          "--activations: this command runs the model (give --token-ids or --text)");
    }
    if (tokenIds != null && text != null) {
      throw new IllegalArgumentException("give --token-ids ID,... or --text TEXT, not both");
    }
    if (tokenIds == null && text == null) {
      throw new IllegalArgumentException("needs --token-ids ID,... or --text TEXT");
    }
    if (!Files.isDirectory(model)) {
      throw new IllegalArgumentException(
          "--model "
              + model
              + ": not a folder (a forward pass needs the whole model in a local folder)");
    }
    ModelWeights m = ModelWeights.open(model);
    if (text == null) {
      ids = tokenIds.values();
      return m;
    }
    try {
      ids = Tokenizer.encode(m, text).ids();
    } catch (IllegalArgumentException e) {
      m.close();
      throw new IllegalArgumentException("--text: " + e.getMessage(), e);
    }
    return m;
  }

  /** The model folder, or null (a magic then uses the session's model). */
  public Path model() {
    return model;
  }

  /** The model named by {@code --model}, opened, the input read (the caller closes it). */
  public ModelWeights openModel() {
    if (activations != null) {
      // the magic path: the layer is not known yet; a local folder (every layer read lazily)
      return ModelWeights.open(
          dev.saelab.hub.Sources.fromEnvironment().model(model.toString(), null));
    }
    return open();
  }

  /**
   * The input's token ids on an already open model (a magic's session model): the ids given, or
   * {@code --text} tokenised with that model folder's tokenizer.json.
   */
  public int[] tokenIds(ModelWeights m) {
    if (activations != null) {
      if (tokenIds != null || text != null) {
        throw new IllegalArgumentException(
            "give --activations FILE or --token-ids/--text, not both");
      }
      return null;
    }
    if (tokenIds != null && text != null) {
      throw new IllegalArgumentException("give --token-ids ID,... or --text TEXT, not both");
    }
    if (tokenIds == null && text == null) {
      throw new IllegalArgumentException("needs --token-ids ID,... or --text TEXT");
    }
    if (text == null) {
      ids = tokenIds.values();
    } else {
      try {
        ids = Tokenizer.encode(m, text).ids();
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--text: " + e.getMessage(), e);
      }
    }
    return ids;
  }

  /** The token ids (given, or of the text); after {@link #open()}. */
  int[] ids() {
    return ids;
  }

  /** The option the input came from, for error messages. */
  String flag() {
    return text != null ? "--text" : "--token-ids";
  }
}
