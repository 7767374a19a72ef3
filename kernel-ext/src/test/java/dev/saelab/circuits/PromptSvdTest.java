package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.forward.Activations;
import dev.saelab.forward.ForwardPass;
import dev.saelab.io.SafetensorsWriter;
import dev.saelab.model.ModelWeights;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Franco &amp; Crovella on prompts ({@link PromptSvd}, {@link ResidualSplit}, {@link HeadPaths})
 * against the independent float64 numpy reference {@code datasets/reference/prompt_svd.py} (→
 * {@code prompt_svd.json}; tolerance 2e-5·(1 + |v|)), the exactness identities, a planted
 * head-to-head path in a synthetic GPT-2, and the one-line errors.
 */
class PromptSvdTest {
  static final double TOL = 2e-5;

  static JsonNode reference() throws IOException {
    Path file = TestFiles.datasets().resolve("reference/prompt_svd.json");
    Assumptions.assumeTrue(
        Files.exists(file),
        "datasets/reference/prompt_svd.json absent (made by datasets/reference/prompt_svd.py)");
    return new ObjectMapper().readTree(file.toFile());
  }

  static int[] ids(JsonNode root) {
    int[] ids = new int[root.get("token_ids").size()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = root.get("token_ids").get(i).asInt();
    }
    return ids;
  }

  static void close(String what, double got, double ref) {
    assertTrue(
        Math.abs(got - ref) <= TOL * (1 + Math.abs(ref)),
        what + ": " + got + " vs reference " + ref);
  }

  @ParameterizedTest
  @ValueSource(strings = {"gpt2", "gemma2", "gemma3", "qwen3", "llama3"})
  void matchesTheNumpyReference(String key) throws IOException {
    JsonNode root = reference();
    JsonNode m = root.get(key);
    int layer = m.get("layer").asInt();
    int[] ids = ids(root);
    String form = m.get("form").asText();
    double worstRel = 0;
    double worstRef = 0;
    int pairs = 0;
    int n90Total = 0;
    try (ModelWeights w =
            ModelWeights.open(TestFiles.datasets().resolve(m.get("folder").asText()));
        Activations a = ForwardPass.run(w, ids, HeadPaths.hooks(layer))) {
      ResidualSplit split = ResidualSplit.of(w, a, layer);
      List<String> names = new ArrayList<>();
      split.components().forEach(c -> names.add(c.name()));
      names.add("bias");
      List<String> refNames = new ArrayList<>();
      m.get("components").forEach(n -> refNames.add(n.asText()));
      assertEquals(refNames, names, key + " components");
      assertTrue(split.error() < 1e-6, key + " residual split error " + split.error());
      for (JsonNode p : m.get("pairs")) {
        int h = p.get("head").asInt();
        int t = p.get("t").asInt();
        int u = p.get("u").asInt();
        String at = key + " L" + layer + "H" + h + " t" + t + " u" + u;
        PromptSvd s = PromptSvd.of(w, a, layer, h, t, u);
        assertEquals(
            switch (form) {
              case "bilinear" -> PromptSvd.Form.BILINEAR;
              case "rope" -> PromptSvd.Form.ROPE_AT_DISTANCE;
              case "rope+qk_rms_frozen" -> PromptSvd.Form.ROPE_AT_DISTANCE_QK_RMS_FROZEN;
              default -> throw new AssertionError(form);
            },
            s.form(),
            at);
        // exact: the terms add up to the model's own score (float32 forward) within 1e-4
        double rel = Math.abs(s.total() - s.modelScore()) / Math.abs(s.modelScore());
        assertTrue(rel <= 1e-4, at + ": Σ terms " + s.total() + " vs score " + s.modelScore());
        worstRel = Math.max(worstRel, rel);
        close(at + " score", s.modelScore(), p.get("score").asDouble());
        close(at + " total", s.total(), p.get("total").asDouble());
        close(at + " coefficient", s.coefficient(), p.get("coefficient").asDouble());
        double sum = 0;
        for (PromptSvd.Term e : s.terms()) {
          int k = e.k();
          close(at + " sigma " + k, e.sigma(), p.get("sigma").get(k).asDouble());
          close(at + " query factor " + k, e.query(), p.get("query").get(k).asDouble());
          close(at + " key factor " + k, e.key(), p.get("key").get(k).asDouble());
          assertEquals(s.coefficient() * e.sigma() * e.query() * e.key(), e.value(), 1e-12);
          worstRef =
              Math.max(
                  worstRef,
                  Math.abs(e.query() - p.get("query").get(k).asDouble())
                      / (1 + Math.abs(p.get("query").get(k).asDouble())));
          sum += e.value();
        }
        assertEquals(s.total(), sum, 1e-12 * (1 + Math.abs(sum)));
        for (int i = 1; i < s.terms().size(); i++) {
          assertTrue(
              Math.abs(s.terms().get(i - 1).value()) >= Math.abs(s.terms().get(i).value()), at);
        }
        int n90 = s.directionsFor(0.9);
        if (!nearBoundary(p, 0.9)) {
          assertEquals(p.get("n90").asInt(), n90, at + " directions for 90%");
        }
        n90Total += n90;
        pairs++;
        if (p.has("paths")) {
          checkPaths(at, w, a, s, split, p, refNames);
        }
      }
    }
    System.out.printf(
        Locale.ROOT,
        "prompt svd %s (%s): %d pairs, max |Σ terms − score|/|score| %.2g, max query-factor"
            + " difference from numpy %.2g, mean directions for 90%% %.2f%n",
        key,
        form,
        pairs,
        worstRel,
        worstRef,
        n90Total / (double) pairs);
  }

  /** Whether the reference's 90 % count sits within 1e-4 of a boundary (rounding could move it). */
  static boolean nearBoundary(JsonNode p, double share) {
    double c = p.get("coefficient").asDouble();
    int n = p.get("sigma").size();
    double[] v = new double[n];
    double all = 0;
    for (int k = 0; k < n; k++) {
      v[k] =
          Math.abs(
              c
                  * p.get("sigma").get(k).asDouble()
                  * p.get("query").get(k).asDouble()
                  * p.get("key").get(k).asDouble());
      all += v[k];
    }
    java.util.Arrays.sort(v);
    double acc = 0;
    for (int i = n - 1; i >= 0; i--) {
      acc += v[i];
      if (Math.abs(acc - share * all) <= 1e-4 * all) {
        return true;
      }
    }
    return false;
  }

  private static void checkPaths(
      String at,
      ModelWeights w,
      Activations a,
      PromptSvd s,
      ResidualSplit split,
      JsonNode p,
      List<String> names) {
    JsonNode ref = p.get("paths");
    int n = ref.get("directions").size();
    HeadPaths paths = HeadPaths.of(w, a, s, n);
    int[] ks = paths.directions();
    assertEquals(n, ks.length, at);
    for (int i = 0; i < n; i++) {
      int k = ref.get("directions").get(i).asInt();
      // the direction order is by |term|; compare the set when two terms are within rounding
      int k0 = k;
      int row = i;
      assertTrue(
          java.util.Arrays.stream(ks).anyMatch(x -> x == k0)
              || Math.abs(Math.abs(s.term(ks[row]).value()) - Math.abs(s.term(k0).value()))
                  <= 1e-5 * (1 + Math.abs(s.term(k0).value())),
          at + " direction " + k + " analysed");
      for (HeadSvd.Side side : new HeadSvd.Side[] {HeadSvd.Side.QUERY, HeadSvd.Side.KEY}) {
        JsonNode factors = ref.get(side.id()).get(i);
        double sum = 0;
        for (HeadPaths.Path path : paths.paths()) {
          if (path.k() == k && path.side() == side) {
            sum += path.contribution();
            if (path.source().kind() == ResidualSplit.Kind.REMAINDER) {
              assertTrue(Math.abs(path.factor()) < 1e-5, at + " remainder " + path);
              continue;
            }
            int c = names.indexOf(path.source().name());
            close(
                at + " k" + k + " " + side.id() + " " + path.source(),
                path.factor(),
                factors.get(c).asDouble());
          }
        }
        // exact: the side's paths add up to the direction's term
        if (java.util.Arrays.stream(ks).anyMatch(x -> x == k0)) {
          double term = s.term(k).value();
          assertEquals(term, sum, 1e-9 * (1 + Math.abs(term)), at + " k" + k + " " + side);
          assertEquals(term, paths.sum(k, side), 1e-9 * (1 + Math.abs(term)));
        }
      }
    }
  }

  @Test
  void strongestTinyGpt2HeadPathIsTheReferences() throws IOException {
    // the numpy reference's strongest head → head path at the last query position (its printout):
    // L0H3 -> L1H3, key position 3, direction 2, key side, contribution 0.306098
    JsonNode root = reference();
    try (ModelWeights w = ModelWeights.open(TestFiles.datasets().resolve("tiny-gpt2"));
        Activations a = ForwardPass.run(w, ids(root), HeadPaths.hooks(1))) {
      HeadPaths.Path best = null;
      int bestU = -1;
      for (int h = 0; h < 4; h++) {
        for (int u = 0; u <= 7; u++) {
          HeadPaths hp = HeadPaths.of(w, a, 1, h, 7, u, 0.9);
          for (HeadPaths.Path path : hp.topHeadPaths(1)) {
            if (best == null || Math.abs(path.contribution()) > Math.abs(best.contribution())) {
              best = path;
              bestU = u * 10 + h;
            }
          }
        }
      }
      assertEquals("L0H3", best.source().name());
      assertEquals(3 * 10 + 3, bestU);
      assertEquals(2, best.k());
      assertEquals(HeadSvd.Side.KEY, best.side());
      close("strongest path", best.contribution(), 0.306098);
    }
  }

  // ---- a planted path: L0H0 writes direction r at every token, L1H0 reads r on both sides

  static final int D = 16;
  static final int H = 2;
  static final int DH = 4;
  static final int V = 8;
  static final int P = 16;

  static Path plantedGpt2(Path dir) throws IOException {
    Random rnd = new Random(7);
    Map<String, org.nd4j.linalg.api.ndarray.INDArray> t = new LinkedHashMap<>();
    double[] r = new double[D];
    for (int i = 0; i < D; i++) {
      r[i] = rnd.nextGaussian();
    }
    double mean = java.util.Arrays.stream(r).average().orElse(0);
    double norm = 0;
    for (int i = 0; i < D; i++) {
      r[i] -= mean;
      norm += r[i] * r[i];
    }
    for (int i = 0; i < D; i++) {
      r[i] /= Math.sqrt(norm);
    }
    t.put("wte.weight", random(rnd, 0.3, V, D));
    t.put("wpe.weight", random(rnd, 0.1, P, D));
    for (int l = 0; l < 2; l++) {
      String p = "h." + l + ".";
      t.put(p + "ln_1.weight", Nd4j.ones(org.nd4j.linalg.api.buffer.DataType.FLOAT, D));
      t.put(p + "ln_1.bias", Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, D));
      float[][] attn = random(rnd, 0.05, D, 3 * D).toFloatMatrix();
      float[] attnB = new float[3 * D];
      float[][] proj = random(rnd, 0.05, D, D).toFloatMatrix();
      if (l == 0) {
        // head 0's values carry a constant (b_V), and W_O maps it onto r: it writes 3·r everywhere
        for (int e = 0; e < DH; e++) {
          attnB[2 * D + e] = 1f;
          for (int j = 0; j < D; j++) {
            proj[e][j] = (float) (3.0 / DH * r[j]);
          }
        }
      } else {
        // head 0 reads r on the query and on the key side (dimension 0 of the head)
        for (int i = 0; i < D; i++) {
          attn[i][0] = (float) (4 * r[i]);
          attn[i][D] = (float) (4 * r[i]);
        }
      }
      t.put(p + "attn.c_attn.weight", Nd4j.create(attn));
      t.put(p + "attn.c_attn.bias", Nd4j.create(attnB));
      t.put(p + "attn.c_proj.weight", Nd4j.create(proj));
      t.put(p + "attn.c_proj.bias", random(rnd, 0.01, D));
      t.put(p + "ln_2.weight", Nd4j.ones(org.nd4j.linalg.api.buffer.DataType.FLOAT, D));
      t.put(p + "ln_2.bias", Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, D));
      t.put(p + "mlp.c_fc.weight", random(rnd, 0.05, D, 4 * D));
      t.put(p + "mlp.c_fc.bias", Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, 4 * D));
      t.put(p + "mlp.c_proj.weight", random(rnd, 0.05, 4 * D, D));
      t.put(p + "mlp.c_proj.bias", Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, D));
    }
    t.put("ln_f.weight", Nd4j.ones(org.nd4j.linalg.api.buffer.DataType.FLOAT, D));
    t.put("ln_f.bias", Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, D));
    SafetensorsWriter.write(dir.resolve("model.safetensors"), t, Map.of("format", "pt"));
    Files.writeString(
        dir.resolve("config.json"),
        "{\"model_type\": \"gpt2\", \"n_embd\": "
            + D
            + ", \"n_head\": "
            + H
            + ", \"n_layer\": 2, \"n_ctx\": "
            + P
            + ", \"n_positions\": "
            + P
            + ", \"vocab_size\": "
            + V
            + ", \"layer_norm_epsilon\": 1e-05, \"activation_function\": \"gelu_new\"}");
    return dir;
  }

  static org.nd4j.linalg.api.ndarray.INDArray random(Random rnd, double scale, int... shape) {
    int n = 1;
    for (int s : shape) {
      n *= s;
    }
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (scale * rnd.nextGaussian());
    }
    long[] sh = java.util.Arrays.stream(shape).asLongStream().toArray();
    return Nd4j.create(v, sh, 'c');
  }

  @Test
  void findsThePlantedHeadToHeadPath(@TempDir Path dir) throws IOException {
    int[] ids = {1, 5, 2, 7, 3, 0};
    try (ModelWeights w = ModelWeights.open(plantedGpt2(dir));
        Activations a = ForwardPass.run(w, ids, HeadPaths.hooks(1))) {
      for (int u = 0; u < ids.length; u++) {
        HeadPaths hp = HeadPaths.of(w, a, 1, 0, 5, u, 0.9);
        PromptSvd s = hp.score();
        assertTrue(s.relativeError() < 1e-4, s.toString());
        assertEquals(PromptSvd.Form.BILINEAR, s.form());
        // one direction carries the score, and it is the planted one, fed by L0H0 on both sides
        assertEquals(1, s.directionsFor(0.9), s.toString());
        List<HeadPaths.Path> top = hp.topHeadPaths(2);
        for (HeadPaths.Path p : top) {
          assertEquals("L0H0", p.source().name(), hp.toString());
          assertEquals(s.terms().get(0).k(), p.k());
          assertTrue(p.share() > 0.8, p.toString());
        }
        assertTrue(top.get(0).side() != top.get(1).side(), hp.toString());
        assertTrue(hp.residual().error() < 1e-6);
        if (u == 2) {
          System.out.println("planted: " + s + "\n" + hp);
        }
      }
    }
  }

  // ---- exactness beyond the reference, errors, hooks

  @Test
  void gemma2UndoesTheSoftCapAndSumsOverComponentsToTheResidual() throws IOException {
    try (ModelWeights w = ModelWeights.open(TestFiles.datasets().resolve("tiny-gemma2"));
        Activations a = ForwardPass.run(w, new int[] {3, 9, 27, 4, 50}, HeadPaths.hooks(1))) {
      PromptSvd s = PromptSvd.of(w, a, 1, 2, 4, 1);
      double cap = w.config().attnSoftcap();
      assertEquals(cap * Math.tanh(s.modelScore() / cap), s.recordedScore(), 1e-9);
      assertTrue(s.relativeError() < 1e-4, s.toString());
      ResidualSplit split = ResidualSplit.of(w, a, 1);
      for (int t = 0; t < 5; t++) {
        double[] sum = split.sum(t);
        double[] x = split.residual(t);
        for (int j = 0; j < x.length; j++) {
          assertEquals(x[j], sum[j], 1e-5 * (1 + Math.abs(x[j])));
        }
      }
      // the heads of layer 0 (post-norm scale frozen) add up to its recorded attention output
      try (Activations b = ForwardPass.run(w, a.tokenIds(), List.of("blocks.0.hook_attn_out"))) {
        for (int t = 0; t < 5; t++) {
          for (int j = 0; j < 48; j++) {
            double heads = 0;
            for (int c = 0; c < split.components().size(); c++) {
              if (split.components().get(c).kind() == ResidualSplit.Kind.HEAD) {
                heads += split.part(c, t)[j];
              }
            }
            double rec = b.get("blocks.0.hook_attn_out").getDouble(t, j);
            assertEquals(rec, heads, 1e-5 * (1 + Math.abs(rec)));
          }
        }
      }
    }
  }

  @Test
  void layerZeroHasOnlyTheEmbeddings() throws IOException {
    try (ModelWeights w = ModelWeights.open(TestFiles.datasets().resolve("tiny-gpt2"));
        Activations a = ForwardPass.run(w, new int[] {4, 8, 15}, HeadPaths.hooks(0))) {
      HeadPaths hp = HeadPaths.of(w, a, 0, 1, 2, 0, 0.9);
      assertEquals(
          List.of("embed", "pos_embed"),
          hp.residual().components().stream().map(ResidualSplit.Component::name).toList());
      assertTrue(hp.headPaths().isEmpty());
      assertTrue(hp.residual().error() < 1e-6, hp.residual().toString());
      assertTrue(hp.score().relativeError() < 1e-4);
    }
  }

  @Test
  void errorsAreOneLine() throws IOException {
    try (ModelWeights w = ModelWeights.open(TestFiles.datasets().resolve("tiny-gpt2"));
        Activations a = ForwardPass.run(w, new int[] {4, 8, 15}, PromptSvd.hooks(1))) {
      var e1 = assertThrows(IllegalArgumentException.class, () -> PromptSvd.of(w, a, 1, 0, 0, 2));
      assertEquals(
          "L1H0: query position 0 does not attend to key position 2 (causal mask)",
          e1.getMessage());
      var e2 = assertThrows(IllegalArgumentException.class, () -> PromptSvd.of(w, a, 1, 4, 2, 0));
      assertEquals("head 4 out of range 0..3", e2.getMessage());
      var e3 = assertThrows(IllegalArgumentException.class, () -> PromptSvd.of(w, a, 1, 0, 3, 0));
      assertEquals("positions query 3, key 0: the prompt has positions 0..2", e3.getMessage());
      var e4 =
          assertThrows(IllegalArgumentException.class, () -> HeadPaths.of(w, a, 1, 0, 2, 0, 0.9));
      assertTrue(
          e4.getMessage().startsWith("hook blocks.0.hook_resid_pre was not recorded"),
          e4.getMessage());
      var e5 = assertThrows(IllegalArgumentException.class, () -> PromptSvd.of(w, a, 0, 0, 2, 0));
      assertTrue(
          e5.getMessage().startsWith("hook blocks.0.attn.hook_attn_scores was not recorded"));
    }
  }

  @Test
  void hooksAreTheTransformerLensNames() {
    assertEquals(
        List.of("blocks.2.hook_resid_pre", "blocks.2.attn.hook_attn_scores"), PromptSvd.hooks(2));
    assertEquals(
        List.of(
            "blocks.2.hook_resid_pre",
            "blocks.2.attn.hook_attn_scores",
            "blocks.0.hook_resid_pre",
            "blocks.0.attn.hook_z",
            "blocks.0.hook_mlp_out",
            "blocks.1.attn.hook_z",
            "blocks.1.hook_mlp_out"),
        HeadPaths.hooks(2));
  }
}
