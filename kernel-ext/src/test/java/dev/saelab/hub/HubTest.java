package dev.saelab.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.cli.InspectCommandTest;
import dev.saelab.io.SaeLabException;
import dev.saelab.io.SafetensorsFile;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelWeights;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Downloads, the Hub cache layout, partial reads and failures, against a local server (no network).
 */
class HubTest {
  @TempDir Path cache;
  FakeHub server;
  Hub hub;

  @BeforeEach
  void start() throws IOException {
    server = new FakeHub();
    hub = new Hub(server.endpoint(), FakeHub.TOKEN, cache);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void downloadsIntoTheHuggingFaceCacheLayoutAndReusesIt() throws IOException {
    Path f = hub.download("tiny/scope", "main", "layer_12/width_16k/average_l0_82/params.npz");
    Path src =
        TestFiles.datasets().resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12/params.npz");
    assertArrayEquals(Files.readAllBytes(src), Files.readAllBytes(f));
    Path repo = cache.resolve("models--tiny--scope");
    assertEquals(
        repo.resolve(
            "snapshots/" + FakeHub.COMMIT + "/layer_12/width_16k/average_l0_82/params.npz"),
        f);
    assertTrue(Files.isSymbolicLink(f), "snapshot files link to blobs, as huggingface_hub does");
    assertEquals(
        repo.resolve("blobs/" + Hub.sha256(src)),
        f.getParent().resolve(Files.readSymbolicLink(f)).normalize());
    assertEquals(FakeHub.COMMIT, Files.readString(repo.resolve("refs/main")));
    assertTrue(
        server.cdnAuth.stream().allMatch(String::isEmpty), "the token never goes to the CDN host");
    assertEquals(1, server.count("GET /cdn/"));
    hub.download("tiny/scope", "main", "layer_12/width_16k/average_l0_82/params.npz");
    assertEquals(1, server.count("GET /cdn/"), "the second call is served from the cache");
    assertEquals(
        f,
        hub.cached("tiny/scope", "main", "layer_12/width_16k/average_l0_82/params.npz")
            .orElseThrow());
  }

  @Test
  void fullDownloadsShowProgress() {
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    hub.status(new java.io.PrintStream(err, true));
    hub.download("tiny/scope", "main", "x/params.npz");
    assertEquals("", err.toString(), "files under 1 MB download silently");
    Hub loud =
        new Hub(server.endpoint(), null, cache.resolve("other"))
            .status(new java.io.PrintStream(err, true), 0);
    loud.download("tiny/scope", "main", "x/params.npz");
    assertTrue(
        err.toString().contains("downloading tiny/scope/x/params.npz:")
            && err.toString().endsWith("MB\n"),
        err.toString());
    Hub quiet = new Hub(server.endpoint(), null, cache).status(null);
    quiet.download("tiny/gemma2", "main", "config.json");
  }

  @Test
  void resumesAPartialDownload() throws IOException {
    Path src =
        TestFiles.datasets().resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12/params.npz");
    byte[] all = Files.readAllBytes(src);
    Path blobs = cache.resolve("models--tiny--scope/blobs");
    Files.createDirectories(blobs);
    Files.write(blobs.resolve(Hub.sha256(src) + ".incomplete"), java.util.Arrays.copyOf(all, 1000));
    Path f = hub.download("tiny/scope", "main", "a/params.npz");
    assertArrayEquals(all, Files.readAllBytes(f));
    assertEquals(
        1,
        server.log.stream()
            .filter(l -> l.startsWith("GET /cdn/") && l.endsWith("bytes=1000-"))
            .count());
    assertEquals(
        all.length - 1000, hub.bytesTransferred(), "only the missing bytes were transferred");
  }

  @Test
  void aTruncatedBodyOrAWrongHashNeverLeavesABrokenFileInPlace() throws IOException {
    SaeLabException e =
        assertThrows(
            SaeLabException.class, () -> hub.download("broken/truncated", "main", "params.npz"));
    assertTrue(e.getMessage().contains("run again to resume"), e.getMessage());
    assertTrue(hub.cached("broken/truncated", "main", "params.npz").isEmpty());
    try (var s = Files.list(cache.resolve("models--broken--truncated/blobs"))) {
      assertTrue(
          s.allMatch(p -> p.toString().endsWith(".incomplete")),
          "only the .incomplete file is left");
    }
    e =
        assertThrows(
            SaeLabException.class, () -> hub.download("broken/hash", "main", "params.npz"));
    assertTrue(e.getMessage().contains("corrupt: SHA-256"), e.getMessage());
    try (var s = Files.list(cache.resolve("models--broken--hash/blobs"))) {
      assertEquals(0, s.count(), "the corrupt download is removed");
    }
  }

  @Test
  void gatedAndMissingFilesSayWhatToDoAndNeverShowTheToken() {
    Hub anonymous = new Hub(server.endpoint(), null, cache);
    SaeLabException e =
        assertThrows(
            SaeLabException.class, () -> anonymous.download("gated/model", "main", "config.json"));
    assertTrue(
        e.getMessage().contains("HTTP 401")
            && e.getMessage().contains("HF_TOKEN")
            && e.getMessage().contains("licence"),
        e.getMessage());
    Hub wrong = new Hub(server.endpoint(), "hf_wrong_secret", cache);
    e =
        assertThrows(
            SaeLabException.class, () -> wrong.download("gated/model", "main", "config.json"));
    assertFalse(e.getMessage().contains("hf_wrong_secret"), e.getMessage());
    assertFalse(wrong.toString().contains("hf_wrong_secret"));
    assertTrue(
        hub.download("gated/model", "main", "config.json").toString().endsWith("config.json"));
    e = assertThrows(SaeLabException.class, () -> hub.download("tiny/gemma2", "main", "nope.bin"));
    assertTrue(e.getMessage().contains("has no file nope.bin (HTTP 404"), e.getMessage());
  }

  @Test
  void aRemoteModelFetchesOnlyOneLayersAttentionTensors() throws IOException {
    Sources src = new Sources(hub, Registry.bundled(), server.endpoint());
    Path folder = src.model("hf://tiny/gemma2", 1);
    Path local = TestFiles.datasets().resolve("tiny-gemma2");
    try (ModelWeights remote = ModelWeights.open(folder);
        ModelWeights full = ModelWeights.open(local)) {
      AttentionWeights a = remote.attention(1);
      AttentionWeights b = full.attention(1);
      assertEquals(b.wQ(), a.wQ());
      assertEquals(b.wO(), a.wO());
      assertEquals(b.inputNorm().gain(), a.inputNorm().gain());
      assertThrows(SaeLabException.class, () -> remote.attention(0), "layer 0 was not fetched");
    }
    // bytes: config + index in full, then per shard 8 + header + the layer's attention tensors,
    // nothing else
    long expected =
        Files.size(local.resolve("config.json"))
            + Files.size(local.resolve("model.safetensors.index.json"));
    long totalCheckpoint = 0;
    for (String shard :
        new String[] {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
      Path sp = local.resolve(shard);
      totalCheckpoint += Files.size(sp);
      try (SafetensorsFile sf = SafetensorsFile.open(sp)) {
        long tensors =
            sf.tensors().stream()
                .filter(
                    t ->
                        t.name().startsWith("model.layers.1.")
                            && (t.name().contains("self_attn")
                                || t.name().contains("layernorm")
                                    && !t.name().contains("feedforward")))
                .mapToLong(t -> t.byteSize())
                .sum();
        if (tensors > 0) {
          byte[] first = java.util.Arrays.copyOf(Files.readAllBytes(sp), 8);
          long headerLength =
              java.nio.ByteBuffer.wrap(first).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
          expected += 8 + headerLength + tensors;
        }
      }
    }
    assertEquals(expected, hub.bytesTransferred());
    assertTrue(
        hub.bytesTransferred() < totalCheckpoint / 2,
        hub.bytesTransferred() + " of " + totalCheckpoint);
    long before = server.log.size();
    assertEquals(folder, src.model("hf://tiny/gemma2", 1));
    assertTrue(
        server.log.size() - before <= 1, "the partial copy is reused (one HEAD for the commit)");
  }

  @Test
  void registryResolvesReleasesAndSuggestsNearestNames() {
    Registry r = Registry.bundled();
    assertEquals(
        "layer_12/width_16k/average_l0_82",
        r.sae("gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical").path());
    assertEquals(
        "layer_13/width_16k/average_l0_84",
        r.sae("gemma-scope-2b-pt-res-canonical", "layer_13/width_16k/canonical").path());
    assertEquals(
        "gemma-2-2b/12-gemmascope-res-16k",
        r.sae("gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical").neuronpedia());
    assertEquals(
        "gpt2-small/6-res-jb", r.sae("gpt2-small-res-jb/blocks.6.hook_resid_pre").neuronpedia());
    assertEquals("google/gemma-2-2b", r.model("gemma-2-2b").repo());
    assertTrue(r.model("gemma-2-2b").gated());
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> r.sae("gemma-scope-2b-pt-res-canonicl/layer_12/width_16k/canonical"));
    assertTrue(e.getMessage().contains("nearest: gemma-scope-2b-pt-res-canonical"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> r.sae("gemma-scope-2b-pt-res-canonical/layer_12/width_16/canonical"));
    assertTrue(e.getMessage().contains("nearest: layer_12/width_16k/canonical"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> r.model("gemma2-2b"));
    assertTrue(e.getMessage().contains("nearest: gemma-2-2b"), e.getMessage());
  }

  @Test
  void neuronpediaBulkExportIsDownloadedAndCached() {
    Sources src = new Sources(hub, Registry.bundled(), server.endpoint());
    Path dir = src.labels("neuronpedia://tiny-gemma2/1-tinyscope-res-96");
    var remote = NeuronpediaLabels.read(dir);
    var local =
        NeuronpediaLabels.read(
            TestFiles.datasets()
                .resolve("tiny-neuronpedia/v1/tiny-gemma2/1-tinyscope-res-96/explanations"));
    assertEquals(local.labelOrEmpty(63), remote.labelOrEmpty(63));
    assertEquals(3, server.count("batch-"), "batch-0, batch-1, and batch-2 answered 404");
    src.labels("neuronpedia://tiny-gemma2/1-tinyscope-res-96");
    assertEquals(3, server.count("batch-"), "the second call is served from the cache");
    assertThrows(IllegalArgumentException.class, () -> src.labels("neuronpedia://no slash"));
  }

  @Test
  void theCommandLineNamesRealReleasesAndGatedModels() {
    Map<String, String> props = FakeHub.props(server, cache, FakeHub.TOKEN);
    props.forEach(System::setProperty);
    try {
      String[] r =
          InspectCommandTest.run(
              "tables",
              "--model",
              "gemma-2-2b",
              "--layer",
              "1",
              "--sae-in",
              "gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical",
              "--circuit",
              "qk",
              "--heads",
              "1",
              "--top",
              "1",
              "--out",
              cache.resolve("t.csv").toString(),
              "--quiet");
      assertEquals("0", r[0], r[2]);
      System.setProperty("saelab.HF_TOKEN", "");
      r =
          InspectCommandTest.run(
              "tables",
              "--model",
              "hf://google/gemma-2-2b@other",
              "--layer",
              "1",
              "--sae-in",
              "gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical",
              "--circuit",
              "qk",
              "--out",
              cache.resolve("u.csv").toString(),
              "--quiet");
      assertEquals("2", r[0]);
      assertTrue(r[2].contains("refused access") && r[2].contains("HF_TOKEN"), r[2]);
    } finally {
      props.keySet().forEach(System::clearProperty);
    }
  }
}
