package dev.saelab.forward;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.saelab.model.ModelWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Text to token ids with the model's own {@code tokenizer.json} (Hugging Face tokenizers, through
 * DJL), special tokens included as the file's post-processor says: Gemma's tokenizer puts {@code
 * <bos>} (id 2) first, GPT-2's adds nothing.
 *
 * <p>Offline: DJL's jar bundles the native library, and this class sets {@code ai.djl.offline}
 * (unless already set) so that DJL does not probe the network for its telemetry.
 */
public final class Tokenizer {
  /** The file name in a model folder. */
  public static final String FILE = "tokenizer.json";

  static {
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
  }

  private Tokenizer() {}

  /**
   * The tokens of a text.
   *
   * @param ids the token ids, special tokens included
   * @param strings the tokens as the vocabulary spells them
   */
  public record Tokens(int[] ids, List<String> strings) {
    /** The number of tokens. */
    public int size() {
      return ids.length;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Tokens t && Arrays.equals(ids, t.ids) && strings.equals(t.strings);
    }

    @Override
    public int hashCode() {
      return 31 * Arrays.hashCode(ids) + strings.hashCode();
    }

    @Override
    public String toString() {
      return Arrays.toString(ids) + " " + strings;
    }
  }

  /** Encodes text with the model folder's tokenizer, at most the model's context length. */
  public static Tokens encode(ModelWeights model, String text) {
    return encode(model.folder(), text, model.config().maxPositions());
  }

  /**
   * Encodes text with {@code folder/tokenizer.json}; one-line errors for a missing file, empty
   * text, and more than {@code context} tokens.
   */
  public static Tokens encode(Path folder, String text, int context) {
    if (text == null || text.isEmpty()) {
      throw new IllegalArgumentException("empty text: nothing to tokenise");
    }
    Path file = folder.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(
          "no "
              + FILE
              + " in "
              + folder
              + ": text needs the model's tokenizer (give token ids instead)");
    }
    Encoding e;
    try (HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(file)) {
      e = t.encode(text);
    } catch (IOException | RuntimeException ex) {
      throw new IllegalArgumentException(
          file + ": cannot read the tokenizer (" + oneLine(ex.getMessage()) + ")", ex);
    }
    long[] raw = e.getIds();
    if (raw.length == 0) {
      throw new IllegalArgumentException("text \"" + text + "\" has no tokens");
    }
    if (raw.length > context) {
      throw new IllegalArgumentException(
          "the text is "
              + raw.length
              + " tokens: the model's context length (max_position_embeddings) is "
              + context);
    }
    int[] ids = new int[raw.length];
    for (int i = 0; i < raw.length; i++) {
      ids[i] = Math.toIntExact(raw[i]);
    }
    return new Tokens(ids, List.of(e.getTokens()));
  }

  /**
   * Each id decoded on its own with the model folder's tokenizer (for axis labels: a leading space
   * shows as {@code ␣}, a newline as {@code ⏎}), or empty when the folder has no tokenizer.json or
   * it cannot be read.
   */
  public static java.util.Optional<List<String>> tokenStrings(Path folder, int[] ids) {
    Path file = folder.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      return java.util.Optional.empty();
    }
    try (HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(file)) {
      List<String> out = new java.util.ArrayList<>();
      for (int id : ids) {
        String s = t.decode(new long[] {id}, false);
        out.add(s.replace(' ', '␣').replace("\n", "⏎"));
      }
      return java.util.Optional.of(out);
    } catch (IOException | RuntimeException ex) {
      return java.util.Optional.empty();
    }
  }

  private static String oneLine(String s) {
    return s == null ? "unknown error" : s.strip().replaceAll("\\s*\\R\\s*", " ");
  }
}
