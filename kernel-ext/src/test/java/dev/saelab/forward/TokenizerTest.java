package dev.saelab.forward;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.model.ModelWeights;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped tokenizer.json files (datasets/generate_tokenizers.py): the expected ids are read off
 * its WORDS list by hand. Gemma: 0 pad, 1 eos, 2 bos, 3 unk, then the words from id 4 (the 4, cat
 * 5, sat 6, on 7, mat 8, "." 55); GPT-2: the words from id 0, unk 62, no BOS.
 */
class TokenizerTest {
  @TempDir Path dir;

  private static final int[] THE_CAT_SAT = {2, 4, 5, 6, 7, 4, 8, 55};

  @Test
  void gemmaAddsBos() {
    Tokenizer.Tokens t = Tokenizer.encode(ForwardTest.model("tiny-gemma2"), "the cat", 256);
    assertArrayEquals(new int[] {2, 4, 5}, t.ids());
    assertEquals(List.of("<bos>", "the", "cat"), t.strings());
    for (String m : List.of("tiny-gemma2", "tiny-gemma3", "tiny-gemma3-nested")) {
      assertArrayEquals(
          THE_CAT_SAT,
          Tokenizer.encode(ForwardTest.model(m), "the cat sat on the mat.", 512).ids(),
          m);
    }
  }

  @Test
  void gemma3ReadsTheModelsContext() {
    try (ModelWeights w = ModelWeights.open(ForwardTest.model("tiny-gemma3"))) {
      Tokenizer.Tokens t = Tokenizer.encode(w, "hello world!");
      assertArrayEquals(new int[] {2, 48, 49, 57}, t.ids());
      assertEquals(List.of("<bos>", "hello", "world", "!"), t.strings());
    }
  }

  @Test
  void gpt2AddsNothingAndMapsUnknownWordsToUnk() {
    Tokenizer.Tokens t = Tokenizer.encode(ForwardTest.model("tiny-gpt2"), "The cat, the dog!", 64);
    assertArrayEquals(new int[] {62, 1, 52, 0, 6, 53}, t.ids());
    assertEquals(List.of("<unk>", "cat", ",", "the", "dog", "!"), t.strings());
  }

  /**
   * Byte-level BPE in Qwen3's style: the ids are those of generate_tokenizers.py's own BPE sketch
   * (ids 0..30 the characters {@code ! , . ?}, a..z, Ġ; then one id per merge: "the" 43, "Ġcat" 36,
   * "Ġsat" 38, "Ġon" 40, "Ġthe" 33, "Ġmat" 42, "." 2); no BOS.
   */
  @Test
  void qwen3IsByteLevelBpeWithoutBos() {
    try (ModelWeights w = ModelWeights.open(ForwardTest.model("tiny-qwen3"))) {
      Tokenizer.Tokens t = Tokenizer.encode(w, "the cat sat on the mat.");
      assertArrayEquals(new int[] {43, 36, 38, 40, 33, 42, 2}, t.ids());
      assertEquals(List.of("the", "Ġcat", "Ġsat", "Ġon", "Ġthe", "Ġmat", "."), t.strings());
      assertArrayEquals(new int[] {52, 57, 0}, Tokenizer.encode(w, "hello world!").ids());
      assertArrayEquals(
          new int[] {43, 49, 59, 46, 33, 37, 8, 4, 3},
          Tokenizer.encode(w, "the dog is in the sea?").ids());
      // a word outside the merges falls apart into its characters: "Ġs" 37, "e" 8, "a" 4
      assertEquals(
          List.of("the", "Ġdog", "Ġis", "Ġin", "Ġthe", "Ġs", "e", "a", "?"),
          Tokenizer.encode(w, "the dog is in the sea?").strings());
      // a byte outside the tiny vocabulary is dropped (no unk token, as tokenizers' BPE does)
      assertEquals(List.of("he", "Ġcat"), Tokenizer.encode(w, "The cat").strings());
      // the special token in the text is one token (<|endoftext|> 60)
      assertArrayEquals(new int[] {43, 60}, Tokenizer.encode(w, "the<|endoftext|>").ids());
    }
  }

  /** Llama 3: the same BPE, with {@code <|begin_of_text|>} (60, the config's bos) first. */
  @Test
  void llama3AddsBeginOfText() {
    try (ModelWeights w = ModelWeights.open(ForwardTest.model("tiny-llama3"))) {
      Tokenizer.Tokens t = Tokenizer.encode(w, "the cat sat on the mat.");
      assertArrayEquals(new int[] {60, 43, 36, 38, 40, 33, 42, 2}, t.ids());
      assertEquals("<|begin_of_text|>", t.strings().get(0));
      assertArrayEquals(new int[] {60, 52, 57, 0}, Tokenizer.encode(w, "hello world!").ids());
    }
  }

  @Test
  void oneLineErrors() throws Exception {
    Path gpt2 = ForwardTest.model("tiny-gpt2");
    assertMessage("no tokenizer.json in " + dir, () -> Tokenizer.encode(dir, "the cat", 64));
    assertMessage("empty text", () -> Tokenizer.encode(gpt2, "", 64));
    assertMessage("has no tokens", () -> Tokenizer.encode(gpt2, "   ", 64));
    assertMessage(
        "the text is 65 tokens: the model's context length (max_position_embeddings) is 64",
        () -> Tokenizer.encode(gpt2, "the ".repeat(65), 64));
    assertEquals(64, Tokenizer.encode(gpt2, "the ".repeat(64), 64).size());
    // BOS counts: 63 words + <bos> fit in 64
    assertEquals(
        64, Tokenizer.encode(ForwardTest.model("tiny-gemma2"), "the ".repeat(63), 64).size());
    assertMessage(
        "the text is 65 tokens",
        () -> Tokenizer.encode(ForwardTest.model("tiny-gemma2"), "the ".repeat(64), 64));
    Files.writeString(dir.resolve("tokenizer.json"), "{not json");
    assertMessage("cannot read the tokenizer", () -> Tokenizer.encode(dir, "the", 64));
  }

  private static void assertMessage(String part, org.junit.jupiter.api.function.Executable e) {
    IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
    assertTrue(x.getMessage().contains(part), part + " in: " + x.getMessage());
    assertTrue(!x.getMessage().contains("\n"), x.getMessage());
  }
}
