package dev.saelab.sae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.io.SaeLabException;
import dev.saelab.io.SafetensorsFile;
import dev.saelab.testutil.TestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * circuit-tracer transcoder sets: per-layer transcoders ({@code #layer=i}) and cross-layer
 * transcoder decoder slices ({@code #writes=L}), checked against the stored tensors read directly.
 */
class TranscoderSetsTest {
  static final Path PLT = TestFiles.datasets().resolve("tiny-plt");
  static final Path CLT = TestFiles.datasets().resolve("tiny-clt");

  static Path sel(Path dir, String s) {
    return Path.of(dir + "#" + s);
  }

  static void assertSame(INDArray want, INDArray got, String what) {
    assertEquals(
        java.util.Arrays.toString(want.shape()), java.util.Arrays.toString(got.shape()), what);
    assertEquals(0.0, want.sub(got).amaxNumber().doubleValue(), 0.0, what);
  }

  @Test
  void perLayerTranscoderIsADictionaryForTheStreamsItReadsAndWrites() {
    int[] widths = {64, 80};
    for (int i = 0; i < 2; i++) {
      try (SaeDictionary sae = SaeDictionary.open(sel(PLT, "layer=" + i));
          SafetensorsFile f = SafetensorsFile.open(PLT.resolve("layer_" + i + ".safetensors"))) {
        SaeConfig c = sae.config();
        assertEquals("circuit-tracer transcoder", c.format());
        assertEquals("jumprelu", c.architecture());
        assertEquals(48, c.dIn());
        assertEquals(widths[i], c.dSae());
        assertEquals("blocks." + i + ".hook_mlp_out", c.hookName());
        assertEquals(i, c.layer());
        assertEquals("tiny-llama3", c.modelName());
        assertSame(f.readArray("W_dec"), sae.wDec(), "W_dec");
        assertSame(f.readArray("W_enc").transpose(), sae.wEnc(), "W_enc [d, d_tc]");
        assertSame(f.readArray("b_dec"), sae.bDec(), "b_dec");
        assertSame(
            f.readArray("activation_function.threshold"),
            sae.threshold().orElseThrow(),
            "threshold");
        assertTrue(sae.toString().contains("#layer=" + i) || sae.toString().contains("tiny-plt"));
      }
    }
  }

  @Test
  void crossLayerSlicesWritingIntoLayerLAreConcatenatedBySourceLayer() {
    try (SafetensorsFile d0 = SafetensorsFile.open(CLT.resolve("W_dec_0.safetensors"));
        SafetensorsFile d1 = SafetensorsFile.open(CLT.resolve("W_dec_1.safetensors"));
        SafetensorsFile e0 = SafetensorsFile.open(CLT.resolve("W_enc_0.safetensors"));
        SafetensorsFile e1 = SafetensorsFile.open(CLT.resolve("W_enc_1.safetensors"))) {
      INDArray w0 = d0.readArray("W_dec_0"); // [32, 2, 48]
      INDArray w1 = d1.readArray("W_dec_1"); // [32, 1, 48]
      try (SaeDictionary sae = SaeDictionary.open(sel(CLT, "writes=0"))) {
        assertEquals(32, sae.config().dSae());
        assertEquals("blocks.0.hook_mlp_out", sae.config().hookName());
        assertSame(
            w0.get(NDArrayIndex.all(), NDArrayIndex.point(0), NDArrayIndex.all()),
            sae.wDec(),
            "writes=0: W_dec_0[:, 0, :]");
        assertSame(e0.readArray("b_dec_0"), sae.bDec(), "b_dec_0");
      }
      try (SaeDictionary sae = SaeDictionary.open(sel(CLT, "writes=1"))) {
        SaeConfig c = sae.config();
        assertEquals(64, c.dSae());
        assertEquals(48, c.dIn());
        assertEquals(1, c.layer());
        assertEquals("blocks.1.hook_mlp_out", c.hookName());
        assertEquals("jumprelu", c.architecture());
        INDArray w = sae.wDec();
        assertSame(
            w0.get(NDArrayIndex.all(), NDArrayIndex.point(1), NDArrayIndex.all()),
            w.get(NDArrayIndex.interval(0, 32), NDArrayIndex.all()),
            "features 0..31 = source layer 0: W_dec_0[:, 1, :]");
        assertSame(
            w1.get(NDArrayIndex.all(), NDArrayIndex.point(0), NDArrayIndex.all()),
            w.get(NDArrayIndex.interval(32, 64), NDArrayIndex.all()),
            "features 32..63 = source layer 1: W_dec_1[:, 0, :]");
        assertSame(e1.readArray("b_dec_1"), sae.bDec(), "b_dec_1");
        // Only the slices were read: 2 × 32 rows × 48 BF16 values, plus b_dec_1 (48 F32).
        assertEquals(2L * 32 * 48 * 2 + 48 * 4, sae.bytesRead());
        String m = assertThrows(SaeLabException.class, sae::wEnc).getMessage();
        assertTrue(m.contains("no W_enc") && m.contains("source layer"), m);
      }
    }
  }

  static Path copy(Path src, Path dst) throws Exception {
    Files.createDirectories(dst);
    try (Stream<Path> s = Files.list(src)) {
      for (Path p : s.toList()) {
        Files.copy(p, dst.resolve(p.getFileName()));
      }
    }
    return dst;
  }

  static String error(Path p) {
    String m = assertThrows(SaeLabException.class, () -> SaeDictionary.open(p)).getMessage();
    assertEquals(1, m.lines().count(), m);
    return m;
  }

  @Test
  void errorsNameTheFileAndField(@TempDir Path tmp) throws Exception {
    String m = error(sel(CLT, "writes=2"));
    assertTrue(m.contains("W_dec_0.safetensors") && m.contains("past the last layer"), m);

    Path withN = copy(CLT, tmp.resolve("withN"));
    Files.writeString(
        withN.resolve("config.yaml"),
        Files.readString(withN.resolve("config.yaml")) + "n_layers: 2  # from the model\n");
    m = error(sel(withN, "writes=5"));
    assertTrue(m.contains("config.yaml") && m.contains("'n_layers'") && m.contains("past"), m);

    Path noCfg = copy(CLT, tmp.resolve("noCfg"));
    Files.delete(noCfg.resolve("config.yaml"));
    m = error(sel(noCfg, "writes=1"));
    assertTrue(m.contains("config.yaml") && m.contains("missing"), m);

    Path bad = copy(CLT, tmp.resolve("bad"));
    Files.write(
        bad.resolve("W_dec_1.safetensors"),
        TestFiles.safetensors(
            Map.of(
                "W_dec_1",
                TestFiles.f32(new long[] {32, 2, 48}, TestFiles.seq(32 * 2 * 48, 0.001f))),
            Map.of()));
    m = error(sel(bad, "writes=1"));
    assertTrue(
        m.contains("W_dec_1.safetensors") && m.contains("W_dec_1") && m.contains("[32, 1, 48]"), m);

    Path badPlt = copy(PLT, tmp.resolve("badPlt"));
    Files.write(
        badPlt.resolve("layer_1.safetensors"),
        TestFiles.safetensors(
            Map.of(
                "W_enc", TestFiles.f32(new long[] {80, 47}, TestFiles.seq(80 * 47, 0.001f)),
                "W_dec", TestFiles.f32(new long[] {80, 48}, TestFiles.seq(80 * 48, 0.001f)),
                "b_enc", TestFiles.f32(new long[] {80}, TestFiles.seq(80, 0.001f)),
                "b_dec", TestFiles.f32(new long[] {48}, TestFiles.seq(48, 0.001f))),
            Map.of()));
    m = error(sel(badPlt, "layer=1"));
    assertTrue(m.contains("layer_1.safetensors") && m.contains("W_enc"), m);

    m = error(sel(PLT, "layer=2"));
    assertTrue(m.contains("layer_2.safetensors") && m.contains("missing"), m);
    m = error(sel(PLT, "writes=1"));
    assertTrue(m.contains("model_kind") && m.contains("#layer=i"), m);
    m = error(sel(CLT, "layer=0"));
    assertTrue(m.contains("model_kind") && m.contains("#writes=L"), m);
    m = error(sel(CLT, "reads=0"));
    assertTrue(m.contains("unknown selector"), m);
    m = error(CLT);
    assertTrue(m.contains("#layer=i") && m.contains("#writes=L"), m);
  }

  @Test
  void readsTheFlatYamlCircuitTracerWrites(@TempDir Path tmp) throws Exception {
    Path f = tmp.resolve("config.yaml");
    Files.writeString(
        f,
        "# a comment\n"
            + "model_name: \"google/gemma-2-2b\"\n"
            + "model_kind: transcoder_set   # trailing\n"
            + "feature_input_hook: 'hook_resid_mid'\n"
            + "transcoders:\n"
            + "  - hf://org/repo/layer_0.npz\n"
            + "  - layer_1.safetensors\n"
            + "k: 64\n");
    Map<String, Object> y = TranscoderSets.readYaml(f);
    assertEquals("google/gemma-2-2b", y.get("model_name"));
    assertEquals("transcoder_set", y.get("model_kind"));
    assertEquals("hook_resid_mid", y.get("feature_input_hook"));
    assertEquals(
        java.util.List.of("hf://org/repo/layer_0.npz", "layer_1.safetensors"),
        y.get("transcoders"));
    assertEquals("64", y.get("k"));
  }
}
