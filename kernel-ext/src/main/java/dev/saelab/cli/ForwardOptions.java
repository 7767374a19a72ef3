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

  private int[] ids;

  /**
   * Opens the model and, for {@code --text}, tokenises it; one line naming the flag when something
   * is missing.
   */
  ModelWeights open() {
    if (model == null) {
      throw new IllegalArgumentException("needs --model DIR");
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
    return open();
  }

  /**
   * The input's token ids on an already open model (a magic's session model): the ids given, or
   * {@code --text} tokenised with that model folder's tokenizer.json.
   */
  public int[] tokenIds(ModelWeights m) {
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
