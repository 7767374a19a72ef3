package dev.saelab.forward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.cli.Main;
import dev.saelab.io.SafetensorsFile;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import dev.saelab.testutil.TestFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The forward pass against the independent float64 numpy reference ({@code
 * datasets/reference/forward.py} → {@code forward.json}: tolerance 1e-4 relative + 1e-5 absolute),
 * its internal consistency (softmax rows, causal and sliding masks, residual sums) and the two
 * commands' forms and one-line errors.
 */
class ForwardTest {
  static final int[] LONG = {2, 17, 5, 33, 9, 41, 12, 60, 7, 3, 28, 50};

  static Path model(String folder) {
    return TestFiles.datasets().resolve(folder);
  }

  static List<String> allHooks(int nLayers) {
    List<String> h = new ArrayList<>();
    for (int l = 0; l < nLayers; l++) {
      for (Hook.Point p : Hook.Point.values()) {
        if (p != Hook.Point.FINAL) {
          h.add(Hook.of(l, p).name());
        }
      }
    }
    h.add(Hook.FINAL_NORM.name());
    return h;
  }

  // ---- against the numpy reference

  @ParameterizedTest
  @ValueSource(strings = {"gpt2", "gemma2", "gemma3", "qwen3", "llama3"})
  void matchesTheNumpyReference(String key) throws IOException {
    Path file = TestFiles.datasets().resolve("reference/forward.json");
    Assumptions.assumeTrue(
        Files.exists(file),
        "datasets/reference/forward.json absent (made by datasets/reference/forward.py)");
    JsonNode root = new ObjectMapper().readTree(file.toFile());
    JsonNode m = root.get(key);
    int[] ids = new int[root.get("token_ids").size()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = root.get("token_ids").get(i).asInt();
    }
    double[] worst = {0, 0};
    String[] where = {""};
    try (ModelWeights w = ModelWeights.open(model(m.get("folder").asText()));
        Activations a = ForwardPass.run(w, ids, allHooks(m.get("n_layers").asInt()))) {
      assertEquals(m.get("model_type").asText(), w.config().modelType());
      for (JsonNode layer : m.get("layers")) {
        int l = layer.get("layer").asInt();
        for (String f : new String[] {"resid_pre", "resid_mid", "resid_post"}) {
          compare(
              a.get("blocks." + l + ".hook_" + f),
              layer.get(f),
              key + " L" + l + " " + f,
              worst,
              where);
        }
        compare(
            a.get("blocks." + l + ".attn.hook_attn_scores"),
            layer.get("attn_scores"),
            key + " L" + l + " attn_scores",
            worst,
            where);
        compare(
            a.get("blocks." + l + ".attn.hook_pattern"),
            layer.get("pattern"),
            key + " L" + l + " pattern",
            worst,
            where);
      }
      compare(a.get("ln_final.hook_normalized"), m.get("final"), key + " final", worst, where);
    }
    System.out.printf(
        Locale.ROOT,
        "forward %s: max |error| / max |reference| %.3g (%s), tolerance used %.2f%n",
        key,
        worst[0],
        where[0],
        worst[1]);
  }

  /** Element by element: |java − ref| ≤ 1e-4·|ref| + 1e-5; null in the reference is -inf. */
  static void compare(INDArray got, JsonNode ref, String what, double[] worst, String[] where) {
    List<Double> flat = new ArrayList<>();
    List<Long> shape = new ArrayList<>();
    flatten(ref, flat, shape, 0);
    assertEquals(
        shape.stream().mapToLong(Long::longValue).boxed().toList(),
        java.util.Arrays.stream(got.shape()).boxed().toList(),
        what + " shape");
    float[] g;
    try (INDArray c = got.dup('c')) {
      g = c.data().asFloat();
    }
    double scale = 0;
    double maxErr = 0;
    double used = 0;
    for (int i = 0; i < g.length; i++) {
      Double r = flat.get(i);
      if (r == null) {
        assertEquals(Float.NEGATIVE_INFINITY, g[i], what + " element " + i + " should be masked");
        continue;
      }
      double err = Math.abs(g[i] - r);
      assertTrue(
          err <= 1e-4 * Math.abs(r) + 1e-5,
          what + " element " + i + ": " + g[i] + " vs reference " + r);
      scale = Math.max(scale, Math.abs(r));
      maxErr = Math.max(maxErr, err);
      used = Math.max(used, err / (1e-4 * Math.abs(r) + 1e-5));
    }
    // the error relative to the tensor's largest |value|, and the share of the tolerance used
    double rel = scale == 0 ? maxErr : maxErr / scale;
    if (rel > worst[0]) {
      worst[0] = rel;
      where[0] = what;
    }
    worst[1] = Math.max(worst[1], used);
  }

  private static void flatten(JsonNode n, List<Double> out, List<Long> shape, int depth) {
    if (n.isArray()) {
      if (shape.size() == depth) {
        shape.add((long) n.size());
      }
      for (JsonNode c : n) {
        flatten(c, out, shape, depth + 1);
      }
    } else {
      out.add(n.isNull() ? null : n.asDouble());
    }
  }

  // ---- internal consistency

  @ParameterizedTest
  @ValueSource(
      strings = {
        "tiny-gpt2",
        "tiny-gemma2",
        "tiny-gemma3",
        "tiny-gemma3-nested",
        "tiny-qwen3",
        "tiny-llama3"
      })
  void softmaxRowsMasksAndResidualsAgree(String folder) {
    try (ModelWeights w = ModelWeights.open(model(folder))) {
      ModelConfig c = w.config();
      try (Activations a = ForwardPass.run(w, LONG, allHooks(c.nLayers()))) {
        int t = LONG.length;
        for (int l = 0; l < c.nLayers(); l++) {
          float[][][] s = cube(a.get(Hook.of(l, Hook.Point.ATTN_SCORES)));
          float[][][] p = cube(a.get(Hook.of(l, Hook.Point.PATTERN)));
          int window = c.isSliding(l) ? c.slidingWindow() : 0;
          for (int h = 0; h < c.nHeads(); h++) {
            for (int q = 0; q < t; q++) {
              double sum = 0;
              for (int k = 0; k < t; k++) {
                boolean masked = k > q || (window > 0 && q - k >= window);
                assertEquals(
                    masked,
                    s[h][q][k] == Float.NEGATIVE_INFINITY,
                    folder + " L" + l + " H" + h + " q" + q + " k" + k);
                if (masked) {
                  assertEquals(0f, p[h][q][k]);
                } else {
                  assertTrue(Float.isFinite(s[h][q][k]));
                }
                sum += p[h][q][k];
              }
              assertEquals(1.0, sum, 1e-5, folder + " L" + l + " row sum");
            }
          }
          INDArray pre = a.get(Hook.of(l, Hook.Point.RESID_PRE));
          INDArray mid = a.get(Hook.of(l, Hook.Point.RESID_MID));
          INDArray post = a.get(Hook.of(l, Hook.Point.RESID_POST));
          assertTrue(pre.add(a.get(Hook.of(l, Hook.Point.ATTN_OUT))).equalsWithEps(mid, 1e-5));
          assertTrue(mid.add(a.get(Hook.of(l, Hook.Point.MLP_OUT))).equalsWithEps(post, 1e-5));
          if (l + 1 < c.nLayers()) {
            assertEquals(post, a.get(Hook.of(l + 1, Hook.Point.RESID_PRE)));
          }
          assertEquals(
              List.of((long) t, (long) c.nKvHeads(), (long) c.dHead()),
              java.util.Arrays.stream(a.get(Hook.of(l, Hook.Point.ROT_K)).shape())
                  .boxed()
                  .toList());
          assertEquals(
              List.of((long) t, (long) c.nHeads(), (long) c.dHead()),
              java.util.Arrays.stream(a.get(Hook.of(l, Hook.Point.Z)).shape()).boxed().toList());
        }
      }
    }
  }

  @Test
  void slidingLayersOfGemma3HideKeysAWindowAway() {
    try (ModelWeights w = ModelWeights.open(model("tiny-gemma3"));
        Activations a = ForwardPass.run(w, LONG, List.of("blocks.0.attn.hook_attn_scores"))) {
      assertTrue(w.config().isSliding(0));
      assertEquals(8, w.config().slidingWindow());
      float[][][] s = cube(a.get("blocks.0.attn.hook_attn_scores"));
      assertTrue(Float.isFinite(s[0][8][1]), "query 8 sees key 1 (distance 7)");
      assertEquals(Float.NEGATIVE_INFINITY, s[0][8][0], "query 8 does not see key 0 (distance 8)");
    }
  }

  @Test
  void stopsAtTheLastLayerAskedAndRecordsOnlyWhatWasAsked() {
    try (ModelWeights w = ModelWeights.open(model("tiny-gemma3"));
        Activations a =
            ForwardPass.run(w, new int[] {2, 17}, List.of("blocks.1.hook_resid_post"))) {
      assertEquals(List.of("blocks.1.hook_resid_post"), List.copyOf(a.byName().keySet()));
      try (Activations b = ForwardPass.run(w, new int[] {2, 17}, allHooks(4))) {
        assertEquals(b.get("blocks.1.hook_resid_post"), a.get("blocks.1.hook_resid_post"));
      }
    }
  }

  @Test
  void hookNamesRoundTripAndBadOnesNameTheHook() {
    for (String n : allHooks(3)) {
      assertEquals(n, Hook.parse(n).name());
    }
    String msg =
        assertThrows(IllegalArgumentException.class, () -> Hook.parse("blocks.0.hook_nope"))
            .getMessage();
    assertTrue(msg.startsWith("hook 'blocks.0.hook_nope': expected one of"), msg);
    try (ModelWeights w = ModelWeights.open(model("tiny-gpt2"))) {
      assertTrue(
          assertThrows(
                  IllegalArgumentException.class,
                  () -> ForwardPass.run(w, new int[] {1}, List.of("blocks.2.hook_resid_pre")))
              .getMessage()
              .contains("layer 2 out of range 0..1"));
      assertTrue(
          assertThrows(
                  IllegalArgumentException.class,
                  () -> ForwardPass.run(w, new int[] {64}, List.of("blocks.0.hook_resid_pre")))
              .getMessage()
              .startsWith("token id 64 (position 0) out of range"));
    }
  }

  // ---- the commands

  static String[] cli(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        Main.run(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new String[] {
      String.valueOf(code),
      out.toString(StandardCharsets.UTF_8),
      err.toString(StandardCharsets.UTF_8)
    };
  }

  @Test
  void attentionCsvHasOneRowPerHeadQueryAndAllowedKey(@TempDir Path dir) throws IOException {
    Path csv = dir.resolve("a.csv");
    String ids = "2,17,5,33,9,41,12,60,7,3,28,50";
    String[] r =
        cli(
            "attention",
            "--model",
            model("tiny-gemma3").toString(),
            "--token-ids",
            ids,
            "--layer",
            "0",
            "--out",
            csv.toString());
    assertEquals("0", r[0], r[2]);
    List<String> lines = Files.readAllLines(csv);
    assertEquals("layer,head,query_pos,key_pos,score,pattern", lines.get(0));
    // 4 heads, 12 tokens, window 8: Σ_q min(q + 1, 8) = 36 + 4·8 = 68 keys per head
    assertEquals(1 + 4 * 68, lines.size());
    List<String> rows = lines.subList(1, lines.size());
    String prev = null;
    double rowSum = 0;
    try (ModelWeights w = ModelWeights.open(model("tiny-gemma3"));
        Activations a =
            ForwardPass.run(
                w, LONG, List.of("blocks.0.attn.hook_attn_scores", "blocks.0.attn.hook_pattern"))) {
      float[][][] s = cube(a.get("blocks.0.attn.hook_attn_scores"));
      for (int i = 0; i < rows.size(); i++) {
        String[] f = rows.get(i).split(",");
        int h = Integer.parseInt(f[1]);
        int q = Integer.parseInt(f[2]);
        int k = Integer.parseInt(f[3]);
        assertEquals("0", f[0]);
        assertTrue(k <= q && q - k < 8, rows.get(i));
        assertEquals(s[h][q][k], Float.parseFloat(f[4]));
        String order = String.format(Locale.ROOT, "%03d%03d%03d", h, q, k);
        assertTrue(prev == null || order.compareTo(prev) > 0, "ordered by head, query, key");
        prev = order;
        rowSum += Double.parseDouble(f[5]);
      }
    }
    assertEquals(4 * 12, rowSum, 1e-4, "each (head, query) row sums to 1");
    assertTrue(r[1].startsWith("wrote "), r[1]);
  }

  @Test
  void runSavesTheHooksAsSafetensors(@TempDir Path dir) {
    Path file = dir.resolve("run.safetensors");
    String[] r =
        cli(
            "run",
            "--model",
            model("tiny-gpt2").toString(),
            "--token-ids",
            "2,17,5,33",
            "--hooks",
            "blocks.1.hook_resid_post,blocks.0.attn.hook_pattern,blocks.0.attn.hook_attn_scores",
            "--out",
            file.toString());
    assertEquals("0", r[0], r[2]);
    try (SafetensorsFile f = SafetensorsFile.open(file);
        ModelWeights w = ModelWeights.open(model("tiny-gpt2"));
        Activations a =
            ForwardPass.run(
                w,
                new int[] {2, 17, 5, 33},
                List.of(
                    "blocks.1.hook_resid_post",
                    "blocks.0.attn.hook_pattern",
                    "blocks.0.attn.hook_attn_scores"))) {
      assertEquals(3, f.tensors().size());
      for (String n : a.byName().keySet()) {
        assertEquals(a.get(n), f.readArray(n), n);
      }
      assertEquals("[2,17,5,33]", f.metadata().get("token_ids"));
      assertEquals(
          Float.NEGATIVE_INFINITY, f.readArray("blocks.0.attn.hook_attn_scores").getFloat(0, 0, 1));
    }
  }

  @Test
  void badInputsGetOneLineNamingTheFlag(@TempDir Path dir) throws IOException {
    String gpt2 = model("tiny-gpt2").toString();
    Path bare = Files.createDirectories(dir.resolve("no-tokenizer"));
    for (String f : List.of("config.json", "model.safetensors")) {
      Files.copy(model("tiny-gpt2").resolve(f), bare.resolve(f));
    }
    String out = dir.resolve("x.csv").toString();
    String[][] cases = {
      {
        "--token-ids: token id 64 (position 1)",
        "attention",
        "--model",
        gpt2,
        "--token-ids",
        "2,64",
        "--layer",
        "0",
        "--out",
        out
      },
      {
        "--token-ids : expected token ids",
        "attention",
        "--model",
        gpt2,
        "--token-ids",
        "",
        "--layer",
        "0",
        "--out",
        out
      },
      {
        "--layer 2",
        "attention",
        "--model",
        gpt2,
        "--token-ids",
        "2,3",
        "--layer",
        "2",
        "--out",
        out
      },
      {
        "--token-ids: 65 token ids",
        "attention",
        "--model",
        gpt2,
        "--token-ids",
        "1,".repeat(64) + "1",
        "--layer",
        "0",
        "--out",
        out
      },
      {
        "--text: no tokenizer.json in",
        "run",
        "--model",
        bare.toString(),
        "--text",
        "hello",
        "--hooks",
        "blocks.0.hook_resid_pre",
        "--out",
        out
      },
      {
        "--text: empty text",
        "run",
        "--model",
        gpt2,
        "--text",
        "",
        "--hooks",
        "blocks.0.hook_resid_pre",
        "--out",
        out
      },
      {
        "--text: the text is 65 tokens",
        "attention",
        "--model",
        gpt2,
        "--text",
        "the ".repeat(65),
        "--layer",
        "0",
        "--out",
        out
      },
      {
        "or --text TEXT, not both",
        "attention",
        "--model",
        gpt2,
        "--text",
        "the cat",
        "--token-ids",
        "0,1",
        "--layer",
        "0",
        "--out",
        out
      },
      {
        "--hooks blocks.7.hook_resid_pre",
        "run",
        "--model",
        gpt2,
        "--token-ids",
        "2",
        "--hooks",
        "blocks.7.hook_resid_pre",
        "--out",
        out
      },
      {
        "--hooks: hook 'x'",
        "run",
        "--model",
        gpt2,
        "--token-ids",
        "2",
        "--hooks",
        "x",
        "--out",
        out
      },
    };
    for (String[] c : cases) {
      String[] args = java.util.Arrays.copyOfRange(c, 1, c.length);
      String[] r = cli(args);
      assertEquals("2", r[0], String.join(" ", args) + "\n" + r[2]);
      String line = r[2].strip();
      assertFalse(line.contains("\n"), line);
      assertTrue(line.contains(c[0]), c[0] + " in: " + line);
    }
  }

  static float[][][] cube(INDArray x) {
    int n = (int) x.size(0);
    float[][][] out = new float[n][][];
    for (int i = 0; i < n; i++) {
      out[i] = x.slice(i).toFloatMatrix();
    }
    return out;
  }

  @Test
  void textGivesTheSameFilesAsItsTokenIds(@TempDir Path dir) throws IOException {
    // "the cat sat on the mat." with the tiny Gemma tokenizer: <bos> the cat sat on the mat .
    String text = "the cat sat on the mat.";
    String ids = "2,4,5,6,7,4,8,55";
    for (String m : List.of("tiny-gemma2", "tiny-gemma3")) {
      Path a = dir.resolve(m + "-text.csv");
      Path b = dir.resolve(m + "-ids.csv");
      String folder = model(m).toString();
      String[] r =
          cli(
              "attention",
              "--model",
              folder,
              "--text",
              text,
              "--layer",
              "1",
              "--out",
              a.toString());
      assertEquals("0", r[0], r[2]);
      assertTrue(r[1].contains("8 tokens"), r[1]);
      r =
          cli(
              "attention",
              "--model",
              folder,
              "--token-ids",
              ids,
              "--layer",
              "1",
              "--out",
              b.toString());
      assertEquals("0", r[0], r[2]);
      assertEquals(Files.readString(b), Files.readString(a), m);
      Path c = dir.resolve(m + "-text.safetensors");
      Path d = dir.resolve(m + "-ids.safetensors");
      String hooks = "blocks.0.hook_resid_pre,blocks.1.attn.hook_pattern,ln_final.hook_normalized";
      r = cli("run", "--model", folder, "--text", text, "--hooks", hooks, "--out", c.toString());
      assertEquals("0", r[0], r[2]);
      r =
          cli(
              "run",
              "--model",
              folder,
              "--token-ids",
              ids,
              "--hooks",
              hooks,
              "--out",
              d.toString());
      assertEquals("0", r[0], r[2]);
      assertTrue(java.util.Arrays.equals(Files.readAllBytes(d), Files.readAllBytes(c)), m);
    }
  }
}
