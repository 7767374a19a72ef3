package dev.saelab.hub;

import static dev.saelab.testutil.TestFiles.f32;
import static dev.saelab.testutil.TestFiles.seq;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.cli.InspectCommandTest;
import dev.saelab.io.SaeLabException;
import dev.saelab.io.SafetensorsFile;
import dev.saelab.io.TensorInfo;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.sae.SaeDictionary;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@code hf://ORG/REPO[@REV]/PATH} for SAEs (Gemma Scope 2, SAELens, Gemma Scope), labels and
 * models, against {@link FakeHub}: the Hub cache layout, partial reads of safetensors dictionaries,
 * revisions, one-line errors and the command line.
 */
class HubPathsTest {
  static final String C_MAIN = "1111111111111111111111111111111111111111";
  static final String C_V1 = "2222222222222222222222222222222222222222";
  static final String GS2 = "resid_post/layer_2_width_8_l0_small";

  @TempDir Path tmp;
  Path cache;
  Path repo;
  FakeHub server;
  Hub hub;
  Sources src;

  @BeforeEach
  void start() throws Exception {
    cache = tmp.resolve("cache");
    repo = tmp.resolve("repo");
    gemmaScope2(repo.resolve(GS2), 48, 8, 0.01f);
    TestFiles.anonymousSaeLens(repo.resolve("blocks.1.hook_resid_pre"), 48, 8);
    Path npz = repo.resolve("layer_3/width_8/average_l0_5/params.npz");
    Files.createDirectories(npz.getParent());
    TestFiles.npz(npz, TestFiles.tinySaeMembers(48, 8, false), false);
    Path v1 = tmp.resolve("repo-v1");
    gemmaScope2(v1.resolve(GS2), 48, 8, 0.03f);
    Path labels = tmp.resolve("labels");
    Path np = TestFiles.datasets().resolve("tiny-neuronpedia");
    copyTree(np.resolve("v1"), labels.resolve("v1"));
    Files.copy(
        np.resolve("tiny-gemma2_0-tinyscope-res-128.json"),
        labels.resolve("tiny-gemma2_0-tinyscope-res-128.json"));
    server =
        new FakeHub()
            .serve("org/repo", "main", C_MAIN, repo)
            .serve("org/repo", "v1", C_V1, v1)
            .serve("gated/sae", "main", C_MAIN, repo)
            .serve("datasets/org/labels", "main", C_MAIN, labels);
    hub = new Hub(server.endpoint(), FakeHub.TOKEN, cache).status(null);
    src = new Sources(hub, Registry.bundled(), server.endpoint());
  }

  @AfterEach
  void stop() {
    server.close();
  }

  /**
   * A Gemma Scope 2 folder: params.safetensors (lowercase w_, the encoder between) + config.json.
   */
  static Path gemmaScope2(Path dir, int d, int n, float step) throws IOException {
    Map<String, TestFiles.Raw> t = new LinkedHashMap<>();
    t.put("w_dec", f32(new long[] {n, d}, seq(n * d, step)));
    t.put("b_enc", f32(new long[] {n}, seq(n, 0.1f)));
    t.put("w_enc", f32(new long[] {d, n}, seq(d * n, -step)));
    t.put("b_dec", f32(new long[] {d}, seq(d, 0.3f)));
    t.put("threshold", f32(new long[] {n}, seq(n, 0.05f)));
    Files.createDirectories(dir);
    Files.write(dir.resolve("params.safetensors"), TestFiles.safetensors(t, Map.of()));
    Files.writeString(dir.resolve("config.json"), "{\"width\": " + n + ", \"type\": \"sae\"}\n");
    return dir;
  }

  static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path q = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(q);
        } else {
          Files.copy(p, q);
        }
      }
    }
  }

  /** Bytes of the tensors of {@code file} whose names pass {@code keep}. */
  static long tensorBytes(Path file, Predicate<String> keep) {
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      return f.tensors().stream()
          .filter(t -> keep.test(t.name()))
          .mapToLong(TensorInfo::byteSize)
          .sum();
    }
  }

  static long headerBytes(Path file) throws IOException {
    byte[] first = java.util.Arrays.copyOf(Files.readAllBytes(file), 8);
    return 8 + java.nio.ByteBuffer.wrap(first).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
  }

  static void assertSame(INDArray want, INDArray got) {
    assertArrayEquals(want.shape(), got.shape());
    assertArrayEquals(
        want.dup('c').reshape(-1).toFloatVector(), got.dup('c').reshape(-1).toFloatVector());
  }

  @Test
  void aGemmaScope2FolderIsReadPartiallyAndCompletedOnDemand() throws IOException {
    String spec = "hf://org/repo/" + GS2;
    Path local = repo.resolve(GS2);
    Path weights = local.resolve("params.safetensors");
    Path in = src.sae(spec, Sources.matricesFor("in"));
    assertEquals(
        cache.resolve("saelab-partial/models--org--repo/" + C_MAIN + "/sae/" + GS2), in, "layout");
    long expected =
        Files.size(local.resolve("config.json"))
            + headerBytes(weights)
            + tensorBytes(weights, n -> !n.equals("w_enc"));
    assertEquals(expected, hub.bytesTransferred(), "config + header + all but the encoder");
    try (SaeDictionary remote = SaeDictionary.open(in);
        SaeDictionary whole = SaeDictionary.open(local)) {
      assertEquals("gemma-scope-2", remote.config().format());
      assertEquals(2, remote.config().layer());
      assertEquals("blocks.2.hook_resid_post", remote.config().hookName());
      assertEquals(8, remote.config().dSae());
      assertSame(whole.wDec(), remote.wDec());
      assertSame(whole.bDec(), remote.bDec());
      assertSame(whole.threshold().orElseThrow(), remote.threshold().orElseThrow());
      // the encoder was not fetched: reading it is a one-line error, never a matrix of zeros
      dev.saelab.io.SaeLabException notFetched =
          org.junit.jupiter.api.Assertions.assertThrows(
              dev.saelab.io.SaeLabException.class, remote::wEnc);
      assertTrue(
          notFetched.getMessage().contains("'w_enc' was not downloaded")
              && notFetched.getMessage().contains("hf://org/repo@"),
          notFetched.getMessage());
    }
    assertTrue(Files.isRegularFile(in.resolve("config.json")));
    assertEquals(C_MAIN, Files.readString(cache.resolve("models--org--repo/refs/main")));

    long gets = server.count("GET ");
    long bytes = hub.bytesTransferred();
    assertEquals(in, src.sae(spec, Sources.matricesFor("key")));
    assertEquals(gets, server.count("GET "), "the second resolution downloads nothing");
    assertEquals(bytes, hub.bytesTransferred());

    Path out = src.sae(spec, Sources.matricesFor("out"));
    assertEquals(in, out, "one partial copy, completed");
    assertEquals(
        bytes + tensorBytes(weights, "w_enc"::equals),
        hub.bytesTransferred(),
        "only the encoder is added, no header again");
    try (SaeDictionary remote = SaeDictionary.open(out);
        SaeDictionary whole = SaeDictionary.open(local)) {
      assertSame(whole.wEnc(), remote.wEnc());
      assertSame(whole.wDec(), remote.wDec());
    }
    assertArrayEquals(
        Files.readAllBytes(weights),
        Files.readAllBytes(out.resolve("params.safetensors")),
        "with every tensor, byte for byte the remote file");

    // the whole SAE goes to the Hub cache, which partial reads then use as it is
    Path full = src.sae(spec);
    assertEquals(cache.resolve("models--org--repo/snapshots/" + C_MAIN + "/" + GS2), full);
    assertArrayEquals(
        Files.readAllBytes(weights), Files.readAllBytes(full.resolve("params.safetensors")));
    assertTrue(Files.isRegularFile(full.resolve("config.json")));
    assertEquals(full, src.sae(spec, Sources.matricesFor("in")));
    // a file named directly
    Path file = src.sae(spec + "/params.safetensors", Sources.matricesFor("in"));
    assertEquals(full.resolve("params.safetensors"), file);
    try (SaeDictionary s = SaeDictionary.open(file)) {
      assertEquals(2, s.config().layer());
    }
  }

  @Test
  void anInterruptedFillResumesAtTheFirstTensorNotRecorded() throws IOException {
    Path weights = repo.resolve(GS2).resolve("params.safetensors");
    String path = GS2 + "/params.safetensors";
    Hub.FileMeta meta = hub.head("org/repo", "main", path);
    Path dest = tmp.resolve("partial/params.safetensors");
    Path state = tmp.resolve("partial-state/params.safetensors.json");
    // ranges: the header's length, the header, [w_dec], then [w_enc, b_dec, threshold], which
    // fails
    int[] reads = {0};
    hub.onProgress(
        n -> {
          if (++reads[0] == 4) {
            throw new IllegalStateException("connection lost");
          }
        });
    assertThrows(
        IllegalStateException.class,
        () ->
            PartialSafetensors.fill(
                hub, "org/repo", C_MAIN, path, meta, (n, s) -> !n.equals("b_enc"), dest, state));
    hub.onProgress(null);
    long before = hub.bytesTransferred();
    List<String> names =
        PartialSafetensors.fill(hub, "org/repo", C_MAIN, path, meta, (n, s) -> true, dest, state);
    assertEquals(List.of("w_dec", "b_enc", "w_enc", "b_dec", "threshold"), names);
    assertArrayEquals(Files.readAllBytes(weights), Files.readAllBytes(dest));
    assertEquals(
        Files.size(weights) - headerBytes(weights) - tensorBytes(weights, "w_dec"::equals),
        hub.bytesTransferred() - before,
        "the header and w_dec are not fetched again");
  }

  @Test
  void aSaeLensFolderAndAGemmaScopeNpzByPath() throws IOException {
    Path lens = repo.resolve("blocks.1.hook_resid_pre");
    Path out = src.sae("hf://org/repo/blocks.1.hook_resid_pre", Sources.matricesFor("out"));
    assertEquals(
        cache.resolve(
            "saelab-partial/models--org--repo/" + C_MAIN + "/sae/blocks.1.hook_resid_pre"),
        out);
    Path w = lens.resolve("sae_weights.safetensors");
    assertEquals(
        Files.size(lens.resolve("cfg.json"))
            + headerBytes(w)
            + tensorBytes(w, n -> !n.equals("W_dec")),
        hub.bytesTransferred());
    try (SaeDictionary remote = SaeDictionary.open(out);
        SaeDictionary whole = SaeDictionary.open(lens)) {
      assertEquals("saelens", remote.config().format());
      assertSame(whole.wEnc(), remote.wEnc());
      assertSame(whole.bDec(), remote.bDec());
    }
    Path cfg = src.sae("hf://org/repo/blocks.1.hook_resid_pre/cfg.json", null);
    assertEquals(
        cache.resolve("models--org--repo/snapshots/" + C_MAIN + "/blocks.1.hook_resid_pre"),
        cfg,
        "cfg.json names its folder");
    assertTrue(Files.isRegularFile(cfg.resolve("sae_weights.safetensors")));

    String npz = "layer_3/width_8/average_l0_5";
    Path gs = src.sae("hf://org/repo/" + npz, Sources.matricesFor("in"));
    Path snap = cache.resolve("models--org--repo/snapshots/" + C_MAIN + "/" + npz);
    assertEquals(snap, gs, "an npz is always whole, in the Hub cache");
    assertArrayEquals(
        Files.readAllBytes(repo.resolve(npz).resolve("params.npz")),
        Files.readAllBytes(gs.resolve("params.npz")));
    assertTrue(Files.isSymbolicLink(gs.resolve("params.npz")));
    try (SaeDictionary s = SaeDictionary.open(gs)) {
      assertEquals("gemma-scope", s.config().format());
      assertEquals(3, s.config().layer());
    }
    long gets = server.count("GET ");
    assertEquals(snap.resolve("params.npz"), src.sae("hf://org/repo/" + npz + "/params.npz"));
    assertEquals(gets, server.count("GET "), "served from the cache");
  }

  @Test
  void aRevisionPinsTheCommit() throws IOException {
    Path at = src.sae("hf://org/repo@v1/" + GS2, Sources.matricesFor("in"));
    assertEquals(cache.resolve("saelab-partial/models--org--repo/" + C_V1 + "/sae/" + GS2), at);
    assertEquals(C_V1, Files.readString(cache.resolve("models--org--repo/refs/v1")));
    try (SaeDictionary remote = SaeDictionary.open(at);
        SaeDictionary v1 = SaeDictionary.open(tmp.resolve("repo-v1").resolve(GS2));
        SaeDictionary main = SaeDictionary.open(repo.resolve(GS2))) {
      assertSame(v1.wDec(), remote.wDec());
      assertFalse(
          java.util.Arrays.equals(
              main.wDec().reshape(-1).toFloatVector(), remote.wDec().reshape(-1).toFloatVector()));
    }
    Path byCommit = src.sae("hf://org/repo@" + C_MAIN + "/" + GS2);
    assertEquals(cache.resolve("models--org--repo/snapshots/" + C_MAIN + "/" + GS2), byCommit);
    assertTrue(server.count("/org/repo/resolve/" + C_MAIN + "/") > 0);
    SaeLabException e =
        assertThrows(SaeLabException.class, () -> src.sae("hf://org/repo@nope/" + GS2));
    assertTrue(e.getMessage().contains("org/repo has no revision nope (HTTP 404"), e.getMessage());
  }

  @Test
  void missingThingsAreOneLineNamingTheRepositoryAndPath() {
    SaeLabException e =
        assertThrows(
            SaeLabException.class,
            () -> src.sae("hf://org/repo/resid_post/layer_9_width_8_l0_small", Set.of("W_dec")));
    String m = e.getMessage();
    assertTrue(
        m.contains("org/repo has no SAE at resid_post/layer_9_width_8_l0_small")
            && m.contains("HTTP 404")
            && !m.contains("\n"),
        m);
    e = assertThrows(SaeLabException.class, () -> src.sae("hf://org/repo/x/params.npz"));
    assertTrue(
        e.getMessage().contains("org/repo has no file x/params.npz (HTTP 404"), e.getMessage());
    e =
        assertThrows(
            SaeLabException.class, () -> src.sae("hf://org/repo@v1/x/sae_weights.safetensors"));
    assertTrue(e.getMessage().contains("org/repo@v1 has no file x/cfg.json"), e.getMessage());
    e = assertThrows(SaeLabException.class, () -> src.sae("hf://missing/repo/" + GS2));
    assertTrue(
        e.getMessage().contains("missing/repo: no such repository")
            && e.getMessage().contains("HTTP 401"),
        e.getMessage());
    e = assertThrows(SaeLabException.class, () -> src.labels("hf://datasets/org/labels/v2/x"));
    assertTrue(
        e.getMessage().contains("datasets/org/labels has no Neuronpedia export at v2/x"),
        e.getMessage());
    Sources anonymous =
        new Sources(new Hub(server.endpoint(), null, cache), Registry.bundled(), server.endpoint());
    e = assertThrows(SaeLabException.class, () -> anonymous.sae("hf://gated/sae/" + GS2));
    assertTrue(
        e.getMessage().contains("gated/sae refused access")
            && e.getMessage().contains("HF_TOKEN")
            && e.getMessage().contains("licence"),
        e.getMessage());
    assertTrue(
        server.cdnAuth.stream().allMatch(String::isEmpty), "the token never goes to the CDN host");
    for (String bad :
        List.of(
            "hf://org",
            "hf://org/repo/../x",
            "hf://org/repo//x",
            "hf://spaces/a/b/c",
            "hf://a/b@/c")) {
      IllegalArgumentException iae =
          assertThrows(IllegalArgumentException.class, () -> src.sae(bad), bad);
      assertTrue(iae.getMessage().startsWith(bad), iae.getMessage());
    }
    Hub dead = new Hub("http://localhost:1", null, cache);
    e =
        assertThrows(
            SaeLabException.class,
            () ->
                new Sources(dead, Registry.bundled(), "http://localhost:1").sae("hf://org/repo/x"));
    assertTrue(
        e.getMessage()
            .startsWith("cannot reach http://localhost:1/org/repo/resolve/main/x/params.npz"),
        e.getMessage());
  }

  @Test
  void labelsByPathInADatasetRepository() {
    Path np = TestFiles.datasets().resolve("tiny-neuronpedia");
    FeatureLabels local =
        NeuronpediaLabels.read(np.resolve("v1/tiny-gemma2/1-tinyscope-res-96/explanations"));
    Path dir = src.labels("hf://datasets/org/labels/v1/tiny-gemma2/1-tinyscope-res-96");
    assertEquals(
        cache.resolve(
            "datasets--org--labels/snapshots/" + C_MAIN + "/v1/tiny-gemma2/1-tinyscope-res-96"),
        dir);
    FeatureLabels remote = NeuronpediaLabels.read(dir);
    assertEquals(local.labelOrEmpty(63), remote.labelOrEmpty(63));
    assertEquals("1-tinyscope-res-96", remote.sourceId());
    assertEquals(
        1,
        server.count(
            "HEAD /datasets/org/labels/resolve/main/v1/tiny-gemma2/1-tinyscope-res-96/explanations/batch-0"));
    long gets = server.count("GET ");
    assertEquals(
        dir.resolve("explanations"),
        src.labels("hf://datasets/org/labels/v1/tiny-gemma2/1-tinyscope-res-96/explanations"));
    assertEquals(gets, server.count("GET "), "the second resolution downloads nothing");

    Path old = src.labels("hf://datasets/org/labels/tiny-gemma2_0-tinyscope-res-128.json");
    assertEquals(
        NeuronpediaLabels.read(np.resolve("tiny-gemma2_0-tinyscope-res-128.json")).labelOrEmpty(17),
        NeuronpediaLabels.read(old).labelOrEmpty(17));
  }

  @Test
  void aModelInASubfolder() throws IOException {
    Path models = tmp.resolve("models");
    copyTree(TestFiles.datasets().resolve("tiny-gemma2"), models.resolve("checkpoints/tiny"));
    server.serve("org/models", "main", C_MAIN, models);
    Path m = src.model("hf://org/models/checkpoints/tiny", 1);
    assertEquals(
        cache.resolve("saelab-partial/models--org--models/" + C_MAIN + "/checkpoints/tiny/layer_1"),
        m);
    try (var w = dev.saelab.model.ModelWeights.open(m)) {
      assertEquals(48, w.config().dModel());
      w.attention(1);
    }
  }

  /**
   * The command line end to end: the shipped tiny model's planted pairs through Gemma Scope 2
   * copies of the shipped SAEs served by the fake hub, read partially, with labels by path.
   */
  @Test
  void theCommandLineTakesHfPathsForSaesAndLabels() throws IOException {
    Path scope = TestFiles.datasets().resolve("tiny-gemma-scope");
    Path gs2 = tmp.resolve("gs2");
    asGemmaScope2(
        scope.resolve("layer_0/width_128/average_l0_12"),
        gs2.resolve("resid_post/layer_0_width_128_l0_small"));
    asGemmaScope2(
        scope.resolve("layer_1/width_96/average_l0_9"),
        gs2.resolve("resid_post/layer_1_width_96_l0_small"));
    server.serve("org/gs2", "main", C_MAIN, gs2);
    Map<String, String> props = FakeHub.props(server, cache, FakeHub.TOKEN);
    props.forEach(System::setProperty);
    try {
      String model = TestFiles.datasets().resolve("tiny-gemma2").toString();
      String in = "hf://org/gs2/resid_post/layer_0_width_128_l0_small";
      String out = "hf://org/gs2/resid_post/layer_1_width_96_l0_small";
      String labels = "hf://datasets/org/labels/tiny-gemma2_0-tinyscope-res-128.json";
      Path qk = tmp.resolve("qk.csv");
      String[] r =
          InspectCommandTest.run(
              "qk",
              "--model",
              model,
              "--layer",
              "1",
              "--sae-in",
              in,
              "--labels-in",
              labels,
              "--heads",
              "1",
              "--top",
              "1",
              "--out",
              qk.toString(),
              "--quiet");
      assertEquals("0", r[0], r[2]);
      List<String> rows = Files.readAllLines(qk);
      assertTrue(rows.get(1).startsWith("qk,1,1,1,17,42,"), rows.toString());
      Path ov = tmp.resolve("ov.csv");
      r =
          InspectCommandTest.run(
              "ov",
              "--model",
              model,
              "--layer",
              "1",
              "--sae-in",
              in,
              "--sae-out",
              out,
              "--heads",
              "2",
              "--top",
              "1",
              "--out",
              ov.toString(),
              "--quiet");
      assertEquals("0", r[0], r[2]);
      rows = Files.readAllLines(ov);
      assertTrue(rows.get(1).startsWith("ov,1,2,1,5,63,"), rows.toString());
      // the local folders give the same tables
      Path qkLocal = tmp.resolve("qk-local.csv");
      r =
          InspectCommandTest.run(
              "qk",
              "--model",
              model,
              "--layer",
              "1",
              "--sae-in",
              scope.resolve("layer_0/width_128/average_l0_12").toString(),
              "--labels-in",
              TestFiles.datasets()
                  .resolve("tiny-neuronpedia/tiny-gemma2_0-tinyscope-res-128.json")
                  .toString(),
              "--heads",
              "1",
              "--top",
              "1",
              "--out",
              qkLocal.toString(),
              "--quiet");
      assertEquals("0", r[0], r[2]);
      assertEquals(Files.readAllLines(qkLocal), Files.readAllLines(qk));
      // the input side's decoder and the output side's encoder, nothing else of either matrix
      Path state = cache.resolve("saelab-partial/models--org--gs2/" + C_MAIN + "/sae-state");
      assertEquals(
          "[\"w_dec\",\"b_enc\",\"b_dec\",\"threshold\"]",
          filled(state.resolve("resid_post/layer_0_width_128_l0_small/params.safetensors.json")));
      assertEquals(
          "[\"w_enc\",\"b_enc\",\"b_dec\",\"threshold\"]",
          filled(state.resolve("resid_post/layer_1_width_96_l0_small/params.safetensors.json")));
      r =
          InspectCommandTest.run(
              "qk",
              "--model",
              model,
              "--layer",
              "1",
              "--sae-in",
              "hf://org/gs2/resid_post/nothing",
              "--heads",
              "1",
              "--out",
              qk.toString(),
              "--quiet");
      assertEquals("2", r[0]);
      assertTrue(r[2].contains("org/gs2 has no SAE at resid_post/nothing"), r[2]);
      assertEquals(1, r[2].strip().lines().count(), r[2]);
      // the magics load the same way
      dev.saelab.magic.SaeLabMagics m = new dev.saelab.magic.SaeLabMagics();
      m.eval("model", List.of(model, "--layer", "1"));
      m.eval("sae", List.of(in, "--sae-out", out, "--labels-in", labels));
      dev.saelab.api.FeatureTable t =
          (dev.saelab.api.FeatureTable) m.eval("ov", List.of("--heads", "2", "--top", "1"));
      assertEquals(
          List.of(5, 63), List.of(t.rows().get(0).rowFeature(), t.rows().get(0).colFeature()));
    } finally {
      props.keySet().forEach(System::clearProperty);
    }
  }

  static String filled(Path state) throws IOException {
    return new com.fasterxml.jackson.databind.ObjectMapper()
        .readTree(state.toFile())
        .get("filled")
        .toString();
  }

  /** A Gemma Scope 2 folder with the tensors of the Gemma Scope SAE in {@code from}. */
  static void asGemmaScope2(Path from, Path to) throws IOException {
    Map<String, TestFiles.Raw> t = new LinkedHashMap<>();
    try (SaeDictionary s = SaeDictionary.open(from)) {
      t.put("w_dec", raw(s.wDec()));
      t.put("w_enc", raw(s.wEnc()));
      t.put("b_enc", raw(s.bEnc().orElseThrow()));
      t.put("b_dec", raw(s.bDec()));
      t.put("threshold", raw(s.threshold().orElseThrow()));
    }
    Files.createDirectories(to);
    Files.write(to.resolve("params.safetensors"), TestFiles.safetensors(t, Map.of()));
  }

  static TestFiles.Raw raw(INDArray a) {
    return f32(a.shape(), a.dup('c').reshape(-1).toFloatVector());
  }
}
