package dev.saelab.cli;

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
      description = "the input as text: not yet (needs a tokenizer); use --token-ids")
  String text;

  /** Opens the model; one line naming the flag when something is missing. */
  ModelWeights open() {
    if (text != null) {
      throw new IllegalArgumentException(
          "--text: not yet supported (needs a tokenizer); give --token-ids ID,...");
    }
    if (model == null) {
      throw new IllegalArgumentException("needs --model DIR");
    }
    if (tokenIds == null) {
      throw new IllegalArgumentException("needs --token-ids ID,...");
    }
    if (!Files.isDirectory(model)) {
      throw new IllegalArgumentException(
          "--model "
              + model
              + ": not a folder (a forward pass needs the whole model in a local folder)");
    }
    return ModelWeights.open(model);
  }

  /** The model folder, or null (a magic then uses the session's model). */
  public java.nio.file.Path model() {
    return model;
  }

  /** The model named by {@code --model}, opened (the caller closes it). */
  public ModelWeights openModel() {
    return open();
  }

  /** The token ids, checked to be present. */
  public int[] tokenIds() {
    if (text != null) {
      throw new IllegalArgumentException(
          "--text: not yet supported (needs a tokenizer); give --token-ids ID,...");
    }
    if (tokenIds == null) {
      throw new IllegalArgumentException("needs --token-ids ID,...");
    }
    return ids();
  }

  /** The token ids. */
  int[] ids() {
    return tokenIds.values();
  }
}
