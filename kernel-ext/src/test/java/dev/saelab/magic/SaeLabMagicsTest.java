package dev.saelab.magic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.api.FeatureTable;
import dev.saelab.api.Plot;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.io.SaeLabException;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The kernel-neutral magic engine on the shipped tiny model: planted pairs, errors, help. */
class SaeLabMagicsTest {
  static final String D = TestFiles.datasets().toString();
  static final String SAE0 = D + "/tiny-gemma-scope/layer_0/width_128/average_l0_12";
  static final String SAE1 = D + "/tiny-gemma-scope/layer_1/width_96/average_l0_9";
  SaeLabMagics m;

  @BeforeEach
  void load() throws Exception {
    m = new SaeLabMagics();
    assertInstanceOf(
        ModelWeights.class, m.eval("model", List.of(D + "/tiny-gemma2", "--layer", "1")));
    assertInstanceOf(SaeDictionary.class, m.eval("sae", List.of(SAE0, "--sae-out", SAE1)));
    m.eval("labels", List.of(D + "/tiny-neuronpedia/tiny-gemma2_0-tinyscope-res-128.json"));
  }

  @Test
  void qkAndOvFindThePlantedPairsWithLabels() throws Exception {
    FeatureTable qk = (FeatureTable) m.eval("qk", List.of("--heads", "1", "--top", "5"));
    assertEquals(5, qk.size());
    FeatureTable.Row r = qk.rows().get(0);
    assertEquals(
        List.of(17, 42, 1, 1), List.of(r.rowFeature(), r.colFeature(), r.head(), r.rank()));
    assertEquals("L1H1", r.headName());
    assertFalse(r.rowLabel().isEmpty(), "query feature 17 has a label in the shipped export");
    FeatureTable ov = (FeatureTable) m.eval("ov", List.of("--heads", "2", "--top", "3"));
    assertEquals(
        List.of(5, 63), List.of(ov.rows().get(0).rowFeature(), ov.rows().get(0).colFeature()));
    assertEquals(CircuitKind.OV, ov.singleKind());
    FeatureTable all = (FeatureTable) m.eval("qk", List.of("--top", "2", "--distinct-positive"));
    assertEquals(4, all.circuitTables().size());
    assertTrue(
        all.rows().stream().allMatch(x -> x.value() > 0 && x.rowFeature() != x.colFeature()));
  }

  @Test
  void labelsOfAnotherSaeAreRefusedAndUnconfirmedOnesWarnOnce(@TempDir Path dir) throws Exception {
    Path gpt2 = dir.resolve("tiny-gpt2-labels.json");
    Files.writeString(
        gpt2,
        "{\"explanations\":[{\"modelId\":\"tiny-gpt2\",\"layer\":\"1-res-tiny\",\"index\":\"3\","
            + "\"description\":\"planted GPT-2 query\"}]}");
    m.eval("labels", List.of(gpt2.toString()));
    SaeLabException e =
        assertThrows(
            SaeLabException.class, () -> m.eval("qk", List.of("--heads", "1", "--top", "1")));
    assertTrue(
        e.getMessage().contains(gpt2.toString())
            && e.getMessage().contains(SAE0)
            && e.getMessage().contains("model tiny-gpt2 vs a Gemma model"),
        e.getMessage());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
    List<String> warnings = new ArrayList<>();
    SaeLabMagics w = new SaeLabMagics(warnings::add);
    w.eval("model", List.of(D + "/tiny-gemma2", "--layer", "1"));
    w.eval("sae", List.of(SAE0));
    w.eval("labels", List.of(D + "/tiny-neuronpedia/tiny-gemma2_0-tinyscope-res-128.json"));
    w.eval("qk", List.of("--heads", "1", "--top", "1"));
    assertEquals(List.of(), warnings, "the shipped labels fit the shipped SAE");
    w.eval("sae", List.of(TestFiles.anonymousSaeLens(dir.resolve("anon"), 48, 128).toString()));
    w.eval("qk", List.of("--heads", "1", "--top", "1"));
    w.eval("ov", List.of("--sae-out", SAE1, "--heads", "2", "--top", "1"));
    assertEquals(1, warnings.size(), warnings.toString());
    assertTrue(
        warnings.get(0).startsWith("warning: cannot confirm that labels ")
            && warnings.get(0).contains("the SAE names no model or layer"),
        warnings.get(0));
  }

  @Test
  void screensGiveTheSameTableAndABadScreenIsNamed() throws Exception {
    FeatureTable a = (FeatureTable) m.eval("qk", List.of("--top", "30", "--screen", "int8"));
    FeatureTable b = (FeatureTable) m.eval("qk", List.of("--top", "30", "--screen", "fp32"));
    assertEquals(4 * 30, a.size());
    assertEquals(a.circuitTables(), b.circuitTables());
    MagicUsageException e =
        assertThrows(MagicUsageException.class, () -> m.eval("ov", List.of("--screen", "int2")));
    assertTrue(e.getMessage().contains("expected auto, int8 or fp32"), e.getMessage());
  }

  @Test
  void wrongArgumentsGiveOneLineWithTheChoicesAndKeepTheSession() throws Exception {
    MagicUsageException e =
        assertThrows(
            MagicUsageException.class, () -> m.eval("qk", List.of("--rank-by", "biggest")));
    assertTrue(e.getMessage().contains("abs") && e.getMessage().contains("-value"), e.getMessage());
    assertFalse(e.getMessage().contains("\n"));
    assertEquals(0, e.getStackTrace().length, "no stack trace for a usage error");
    e = assertThrows(MagicUsageException.class, () -> m.eval("qk", List.of("--bogus")));
    assertTrue(
        e.getMessage().contains("--heads") && e.getMessage().contains("--top"), e.getMessage());
    e = assertThrows(MagicUsageException.class, () -> m.eval("qk", List.of("--heads", "9")));
    assertTrue(e.getMessage().contains("0..3"), e.getMessage());
    e =
        assertThrows(
            MagicUsageException.class,
            () -> m.eval("model", List.of(D + "/tiny-gemma2", "--layer", "7")));
    assertTrue(e.getMessage().contains("0..1"), e.getMessage());
    e = assertThrows(MagicUsageException.class, () -> m.eval("plot", List.of("pie")));
    assertTrue(e.getMessage().contains("top, block or norms"), e.getMessage());
    e = assertThrows(MagicUsageException.class, () -> m.eval("nope", List.of()));
    assertTrue(e.getMessage().contains("%qk"), e.getMessage());
    // the session survived every error
    FeatureTable qk = (FeatureTable) m.eval("qk", List.of("--heads", "1", "--top", "1"));
    assertEquals(17, qk.rows().get(0).rowFeature());
    assertTrue(m.session().describe().contains("width_128"));
  }

  @Test
  void missingPiecesAreNamed() {
    SaeLabMagics fresh = new SaeLabMagics();
    MagicUsageException e =
        assertThrows(MagicUsageException.class, () -> fresh.eval("qk", List.of()));
    assertTrue(e.getMessage().contains("%model"), e.getMessage());
    Exception e2 =
        assertThrows(Exception.class, () -> fresh.eval("sae", List.of(D + "/no-such-sae")));
    assertTrue(e2.getMessage().contains("no-such-sae"), e2.getMessage());
  }

  @Test
  void helpForEveryMagic() throws Exception {
    for (String name : SaeLabMagics.NAMES) {
      Object h = m.eval(name, List.of("--help"));
      assertTrue(h.toString().contains("%" + name), name);
    }
    String all = SaeLabMagics.help("saelab");
    for (String name : SaeLabMagics.NAMES) {
      assertTrue(all.contains("%" + name), name);
    }
    String status = m.eval("saelab", List.of("status")).toString();
    assertTrue(status.contains("layer:      1"), status);
    // the native build and the tile screen in use, and why (BackendTest covers each platform)
    String screen = dev.saelab.io.Backend.choice().isAvx512() ? "int8" : "fp32";
    assertTrue(
        status.contains(
            "backend:    ND4J native "
                + dev.saelab.io.Backend.describe()
                + "; tile screen "
                + screen),
        status);
    assertTrue(status.contains(org.bytedeco.javacpp.Loader.getPlatform()), status);
  }

  @Test
  void plotsComeFromTheSameProjections() throws Exception {
    Plot block =
        (Plot)
            m.eval(
                "plot",
                List.of("block", "qk", "--head", "1", "--rows", "16:19", "--cols", "41:44"));
    assertTrue(block.png().length > 1000);
    try (ModelWeights model = ModelWeights.open(java.nio.file.Path.of(D, "tiny-gemma2"));
        SaeDictionary in = SaeDictionary.open(java.nio.file.Path.of(SAE0));
        FeatureCircuits fc = FeatureCircuits.of(model.attention(1), in, in, null)) {
      double[][] z = fc.block(CircuitKind.QK, 1, new int[] {17}, new int[] {42});
      FeatureTable qk = (FeatureTable) m.eval("qk", List.of("--heads", "1", "--top", "1"));
      assertEquals(qk.rows().get(0).value(), z[0][0], 1e-4 * Math.abs(z[0][0]));
    }
    m.eval("qk", List.of("--top", "20"));
    assertInstanceOf(Plot.class, m.eval("plot", List.of("top")));
    assertInstanceOf(Plot.class, m.eval("plot", List.of("norms", "--head", "3")));
  }

  @Test
  void runAndValidateUseTheSessionsModelAndSae() throws Exception {
    dev.saelab.forward.Activations a =
        (dev.saelab.forward.Activations)
            m.eval("run", List.of("--token-ids", "2,17,5", "--hooks", "blocks.1.hook_resid_pre"));
    assertArrayEquals(new long[] {3, 48}, a.get("blocks.1.hook_resid_pre").shape());
    assertTrue(
        dev.saelab.render.Renderers.bundle(a).get("text/html").toString().contains("[3, 48]"));
    dev.saelab.api.Analysis v =
        (dev.saelab.api.Analysis)
            m.eval("validate", List.of("--token-ids", "2,17,5,33,9,41,12,60", "--skip-first"));
    // the session's layer 1 and SAE: the same numbers as the command line's (ValidateCommandTest)
    assertEquals(4, v.table().where(v.table().stringColumn("band").isEqualTo("all")).rowCount());
    assertTrue(v.title().contains("mean ρ"), v.title());
    assertTrue(
        dev.saelab.render.Renderers.bundle(v)
            .get("text/html")
            .toString()
            .contains("data:image/png;base64,"));
    FeatureTable qk =
        (FeatureTable)
            m.eval(
                "attribute",
                List.of("--token-ids", "2,17,5,33,9,41,12,60", "--head", "1", "--top", "3"));
    assertEquals(3, qk.size());
    assertTrue(qk.note().startsWith("L1H1 score of query 7 on key "), qk.note());
    assertTrue(
        qk.rows().stream().anyMatch(r -> !r.rowLabel().isEmpty()), "the session's labels joined");
    MagicUsageException e =
        assertThrows(
            MagicUsageException.class,
            () -> new SaeLabMagics().eval("validate", List.of("--token-ids", "2,17")));
    assertTrue(e.getMessage().contains("no model loaded"), e.getMessage());
  }

  @Test
  void splitHonoursQuotes() {
    assertEquals(
        List.of("sae", "/a b/c", "--out", "x"), SaeLabMagics.split("sae \"/a b/c\"  --out 'x'"));
    assertThrows(MagicUsageException.class, () -> SaeLabMagics.split("sae \"open"));
  }

  @Test
  void analysisMagicsReturnPlotsAndTables() throws Exception {
    dev.saelab.api.Analysis rope =
        (dev.saelab.api.Analysis) m.eval("rope", List.of("--heads", "3"));
    assertTrue(
        dev.saelab.render.Renderers.bundle(rope)
            .get("text/html")
            .toString()
            .contains("data:image/png;base64,"));
    var t = rope.table();
    int best = 0;
    for (int i = 1; i < t.rowCount(); i++) {
      if (t.doubleColumn("score").get(i) > t.doubleColumn("score").get(best)) {
        best = i;
      }
    }
    assertEquals(
        1, t.intColumn("delta").get(best), "the planted previous-token head peaks at Δ = 1");
    dev.saelab.api.Analysis sum =
        (dev.saelab.api.Analysis) m.eval("qk", List.of("--heads", "sum", "--top", "5"));
    assertEquals(88, sum.table().intColumn("query_feature").get(0));
    assertEquals(101, sum.table().intColumn("key_feature").get(0));
    assertTrue(sum.table().booleanColumn("weak_in_every_head").get(0));
    dev.saelab.api.Analysis spec = (dev.saelab.api.Analysis) m.eval("svd", List.of());
    assertEquals(2 * 4 * 16, spec.table().rowCount());
    dev.saelab.api.Analysis load =
        (dev.saelab.api.Analysis)
            m.eval(
                "svd",
                List.of(
                    "--circuit",
                    "ov",
                    "--head",
                    "2",
                    "--side",
                    "output",
                    "--directions",
                    "1",
                    "--top",
                    "3"));
    assertEquals(3, load.table().rowCount());
    dev.saelab.api.Analysis f =
        (dev.saelab.api.Analysis) m.eval("feature", List.of("17", "--heads", "1", "--top", "1"));
    assertEquals(42, f.table().intColumn("partner").get(0));
    dev.saelab.api.Analysis sc =
        (dev.saelab.api.Analysis) m.eval("scatter", List.of("--head", "0"));
    assertTrue(sc.title().contains("r = "));
    FeatureTable pos =
        (FeatureTable)
            m.eval("qk", List.of("--heads", "3", "--position", "1", "--cosine", "--top", "2"));
    assertTrue(Math.abs(pos.rows().get(0).value()) <= 1.0001);
    MagicUsageException e =
        assertThrows(MagicUsageException.class, () -> m.eval("feature", List.of("--heads", "1")));
    assertTrue(e.getMessage().contains("expected a feature index first"), e.getMessage());
    e = assertThrows(MagicUsageException.class, () -> m.eval("svd", List.of("--side", "query")));
    assertTrue(e.getMessage().contains("--circuit qk|ov, --head H"), e.getMessage());
    e =
        assertThrows(
            MagicUsageException.class,
            () -> m.eval("qk", List.of("--pairing", "diagonal", "--position", "1")));
    assertTrue(e.getMessage().contains("expected rotate-half or interleaved"), e.getMessage());
  }

  /** {@code Object.toString}'s {@code ClassName@1b6d3586}, or an array's {@code [D@…}. */
  static final java.util.regex.Pattern HASH =
      java.util.regex.Pattern.compile("[\\w$\\[;]@\\p{XDigit}{4,}");

  /** The HTML a reader sees as text: no data-v sort keys (exact on purpose) and no images. */
  static String visible(String html) {
    return html.replaceAll("data-v=\"[^\"]*\"", "").replaceAll("<img[^>]*>", "");
  }

  /**
   * The most significant digits of any decimal number in the text ("0.0081928": 5;
   * "9.278945922851562": 16).
   */
  static int maxSignificantDigits(String text) {
    java.util.regex.Matcher d = java.util.regex.Pattern.compile("\\d+\\.\\d+").matcher(text);
    int max = 0;
    while (d.find()) {
      max = Math.max(max, d.group().replace(".", "").replaceFirst("^0+", "").length());
    }
    return max;
  }

  @Test
  void everyObjectAMagicOrTheApiReturnsHasAReadableSummary() throws Exception {
    m.eval(
        "labels",
        List.of("--labels-out", D + "/tiny-neuronpedia/v1/tiny-gemma2/1-tinyscope-res-96"));
    java.util.Map<String, Object> returned = new java.util.LinkedHashMap<>();
    returned.put("%model", m.eval("model", List.of(D + "/tiny-gemma2", "--layer", "1")));
    returned.put("%sae", m.eval("sae", List.of(SAE0, "--sae-out", SAE1)));
    returned.put(
        "%labels",
        m.eval("labels", List.of(D + "/tiny-neuronpedia/tiny-gemma2_0-tinyscope-res-128.json")));
    returned.put(
        "%labels --out",
        m.eval(
            "labels",
            List.of("--labels-out", D + "/tiny-neuronpedia/v1/tiny-gemma2/1-tinyscope-res-96")));
    returned.put("%saelab status", m.eval("saelab", List.of("status")));
    returned.put("%qk --help", m.eval("qk", List.of("--help")));
    returned.put("%qk", m.eval("qk", List.of("--heads", "1", "--top", "3")));
    returned.put("%ov", m.eval("ov", List.of("--heads", "2", "--top", "3")));
    returned.put("%qk --heads sum", m.eval("qk", List.of("--heads", "sum", "--top", "3")));
    returned.put("%plot top", m.eval("plot", List.of("top")));
    returned.put(
        "%plot block",
        m.eval("plot", List.of("block", "ov", "--head", "2", "--rows", "0:4", "--cols", "60:64")));
    returned.put("%plot norms", m.eval("plot", List.of("norms", "--head", "1")));
    returned.put("%rope", m.eval("rope", List.of("--heads", "1")));
    returned.put("%rope --pairs", m.eval("rope", List.of("--pairs", "17:42", "--heads", "1")));
    returned.put("%svd", m.eval("svd", List.of("--heads", "1")));
    returned.put(
        "%svd --side",
        m.eval("svd", List.of("--circuit", "qk", "--head", "1", "--side", "key", "--top", "3")));
    returned.put("%feature", m.eval("feature", List.of("17", "--heads", "1", "--top", "2")));
    returned.put("%scatter", m.eval("scatter", List.of("--head", "0")));
    returned.put(
        "%run",
        m.eval(
            "run",
            List.of(
                "--token-ids",
                "2,17,5",
                "--hooks",
                "blocks.1.hook_resid_pre,blocks.0.attn.hook_z")));
    returned.put("%validate", m.eval("validate", List.of("--token-ids", "2,17,5,33,9,41,12,60")));
    returned.put(
        "%attribute",
        m.eval("attribute", List.of("--token-ids", "2,17,5,33,9,41,12,60", "--head", "1")));
    returned.put(
        "%attribute --circuit ov",
        m.eval(
            "attribute",
            List.of("--token-ids", "2,17,5,33,9,41,12,60", "--head", "2", "--circuit", "ov")));
    returned.put(
        "%attribute --split paths",
        m.eval(
            "attribute",
            List.of("--token-ids", "2,17,5,33,9,41,12,60", "--head", "2", "--split", "paths")));
    ModelWeights model = (ModelWeights) returned.get("%model");
    var attn = model.attention(1);
    returned.put("attention(1)", attn);
    returned.put("HeadSvd.qk", dev.saelab.circuits.HeadSvd.qk(attn, 1, true));
    returned.put("HeadSvd.ov", dev.saelab.circuits.HeadSvd.ov(attn, 2, false));
    returned.put(
        "split",
        dev.saelab.circuits.HeadSvd.qk(attn, 1, false).split(new double[48], new double[48]));
    returned.put("circuits(...)", dev.saelab.api.SaeLab.circuits(model, 1).heads(1).top(5));
    returned.put("%qk .toTablesaw()", ((FeatureTable) returned.get("%qk")).toTablesaw());
    for (var e : returned.entrySet()) {
      java.util.Map<String, Object> b = dev.saelab.render.Renderers.bundle(e.getValue());
      String plain = String.valueOf(b.get("text/plain"));
      String html = visible(String.valueOf(b.getOrDefault("text/html", "")));
      for (String shown : List.of(plain, html)) {
        assertFalse(HASH.matcher(shown).find(), e.getKey() + " shows an identity hash: " + shown);
        // HeadSvd.Split is a plain data record: its toString keeps Java's full doubles (no identity
        // hash)
        assertTrue(
            e.getKey().equals("split") || maxSignificantDigits(shown) <= 6,
            e.getKey() + " shows a long number: " + shown);
      }
      assertFalse(plain.isBlank(), e.getKey());
      if (!e.getKey().equals("split") && !e.getKey().startsWith("circuits")) {
        assertTrue(
            dev.saelab.render.Renderers.canRender(e.getValue()),
            e.getKey() + ": adapters register it");
        assertTrue(
            html.contains("<table") || html.contains("<pre>") || b.containsKey("image/png"),
            e.getKey() + " has an HTML or image form: " + b.keySet());
      }
    }
    String modelText = returned.get("%model").toString();
    for (String want :
        List.of(
            "gemma2",
            "n_layers=2",
            "d_model=48",
            "n_heads=4",
            "n_kv_heads=2",
            "d_head=16",
            "tiny-gemma2")) {
      assertTrue(modelText.contains(want), modelText);
    }
    String modelHtml = dev.saelab.render.Renderers.bundle(model).get("text/html").toString();
    assertTrue(
        modelHtml.contains("<th style=\"cursor:auto;position:static\">n_kv_heads</th><td>2</td>"),
        modelHtml);
    String sae = returned.get("%sae").toString(); // the last one opened: --out
    assertTrue(
        sae.contains("d_in=48")
            && sae.contains("d_sae=96")
            && sae.contains("layer=1")
            && sae.contains("width_96"),
        sae);
    String labels = returned.get("%labels").toString();
    assertTrue(
        labels.startsWith("FeatureLabels ")
            && labels.contains("features (max index ")
            && labels.contains("tiny-gemma2_0-tinyscope-res-128.json"),
        labels);
    assertTrue(
        returned.get("attention(1)").toString().contains("W_Q [48, 64]"),
        returned.get("attention(1)").toString());
    assertTrue(
        returned
            .get("HeadSvd.qk")
            .toString()
            .startsWith("HeadSvd QK L1H1 (bias-augmented): 16 singular"),
        returned.get("HeadSvd.qk").toString());
  }

  @Test
  void analysisValuesAreShownWithFiveSignificantDigits() throws Exception {
    dev.saelab.api.Analysis rope =
        (dev.saelab.api.Analysis) m.eval("rope", List.of("--heads", "1"));
    double score = rope.table().doubleColumn("score").get(0);
    String shown = String.format(java.util.Locale.ROOT, "%.5g", score);
    String html = dev.saelab.render.Renderers.bundle(rope).get("text/html").toString();
    assertTrue(
        html.contains(">" + shown + "</td>"), shown + " in " + visible(html).substring(0, 2000));
    assertTrue(html.contains("data-v=\"" + score + "\""), "the exact value stays the sort key");
    String text = dev.saelab.render.Renderers.bundle(rope).get("text/plain").toString();
    assertTrue(text.contains(" " + shown + " "), text);
    assertFalse(
        text.contains(Double.toString(score)) && Double.toString(score).length() > shown.length(),
        text);
    assertEquals(
        Double.toString(score),
        rope.table().doubleColumn("score").getString(0).replace(".0E", "E"),
        "the analysis's own table keeps Tablesaw's formatting");
  }

  @Test
  void attentionRunsOnTheSessionsModelAndLayer() throws Exception {
    dev.saelab.api.Analysis a =
        (dev.saelab.api.Analysis)
            m.eval("attention", List.of("--token-ids", "2,17,5", "--head", "3"));
    assertTrue(a.title().startsWith("L1H3 attention on 3 tokens"), a.title());
    assertEquals(6, a.table().rowCount(), "3 queries: 1 + 2 + 3 allowed keys");
    MagicUsageException e =
        assertThrows(MagicUsageException.class, () -> m.eval("attention", List.of("--head", "1")));
    assertTrue(e.getMessage().contains("--token-ids"), e.getMessage());
    e =
        assertThrows(
            MagicUsageException.class,
            () -> m.eval("attention", List.of("--token-ids", "2,17", "--head", "9")));
    assertTrue(e.getMessage().contains("--head 9"), e.getMessage());
  }
}
