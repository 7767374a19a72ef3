package dev.saelab.sae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.testutil.TestFiles;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * SAE encoding against a plain double-precision loop written from the SAEs' own encode functions
 * (SAELens, Gemma Scope), on the shipped tiny dictionaries of every architecture, with rows made to
 * fire features (sums of decoder rows) and random rows.
 */
class SaeEncoderTest {

  @ParameterizedTest
  @ValueSource(
      strings = {
        "tiny-gemma-scope/layer_0/width_128/average_l0_12", // jumprelu, npz
        "tiny-saelens/blocks.1.hook_resid_pre", // standard ReLU, centred stream, b_dec applied
        "tiny-saelens-llama3/blocks.1.hook_resid_pre", // topk k = 8
        "tiny-saelens-qwen3/blocks.1.hook_resid_pre", // jumprelu SAELens
        "tiny-gemma-scope-2/resid_post/layer_2_width_128_l0_small/params.safetensors",
        "tiny-llama-scope/L0R-8x"
      })
  void matchesADoubleLoop(String rel) {
    try (SaeDictionary sae = SaeDictionary.open(TestFiles.datasets().resolve(rel))) {
      SaeConfig c = sae.config();
      int dIn = (int) c.dIn();
      int dSae = (int) c.dSae();
      float[][] wEnc = sae.wEnc().toFloatMatrix();
      float[][] wDec = sae.wDec().toFloatMatrix();
      float[] bDec = sae.bDec().toFloatVector();
      float[] bEnc = sae.bEnc().map(INDArray::toFloatVector).orElse(new float[dSae]);
      float[] thr = sae.threshold().map(INDArray::toFloatVector).orElse(null);
      Random rnd = new Random(7);
      int t = 9;
      float[][] x = new float[t][dIn];
      for (int r = 0; r < t; r++) {
        for (int f = 0; f < 3; f++) {
          float a = 2 + 3 * rnd.nextFloat();
          int feat = rnd.nextInt(dSae);
          for (int i = 0; i < dIn; i++) {
            x[r][i] += a * wDec[feat][i];
          }
        }
        for (int i = 0; i < dIn; i++) {
          x[r][i] += bDec[i] + (r % 3 == 0 ? (float) rnd.nextGaussian() : 0.05f * rnd.nextFloat());
        }
      }
      int fired = 0;
      try (FeatureActivations acts = SaeEncoder.of(sae).encode(Nd4j.create(x))) {
        assertEquals(t, acts.positions());
        for (int r = 0; r < t; r++) {
          double[] in = new double[dIn];
          double mean = 0;
          for (int i = 0; i < dIn; i++) {
            mean += x[r][i] / (double) dIn;
          }
          for (int i = 0; i < dIn; i++) {
            in[i] = x[r][i] - (c.centeredStream() ? mean : 0);
          }
          double[] pre = new double[dSae];
          for (int j = 0; j < dSae; j++) {
            double s = bEnc[j];
            for (int i = 0; i < dIn; i++) {
              s += (in[i] - (c.applyBDecToInput() ? bDec[i] : 0)) * wEnc[i][j];
            }
            pre[j] = s;
          }
          double[] a = new double[dSae];
          if (c.architecture().equals("topk")) {
            List<Integer> order = new ArrayList<>();
            for (int j = 0; j < dSae; j++) {
              order.add(j);
            }
            order.sort((p, q) -> Double.compare(pre[q], pre[p]));
            for (int n = 0; n < c.k(); n++) {
              a[order.get(n)] = Math.max(0, pre[order.get(n)]);
            }
          } else {
            for (int j = 0; j < dSae; j++) {
              boolean on = pre[j] > 0 && (thr == null || pre[j] > thr[j]);
              a[j] = on ? pre[j] : 0;
            }
          }
          int[] feats = acts.features(r);
          float[] vals = acts.values(r);
          fired += feats.length;
          List<Integer> expected = new ArrayList<>();
          for (int j = 0; j < dSae; j++) {
            if (a[j] != 0) {
              expected.add(j);
            }
          }
          assertArrayEquals(
              expected.stream().mapToInt(Integer::intValue).toArray(), feats, rel + " row " + r);
          for (int n = 0; n < feats.length; n++) {
            assertEquals(a[feats[n]], vals[n], 1e-4 * (1 + Math.abs(a[feats[n]])), rel);
            assertEquals(vals[n], acts.activation(r, feats[n]));
          }
          for (int i = 0; i < dIn; i++) {
            double rec = bDec[i];
            for (int j = 0; j < dSae; j++) {
              rec += a[j] * wDec[j][i];
            }
            assertEquals(in[i], acts.input().getDouble(r, i), 1e-5 * (1 + Math.abs(in[i])));
            assertEquals(rec, acts.reconstruction().getDouble(r, i), 1e-4 * (1 + Math.abs(rec)));
            assertEquals(
                in[i] - rec, acts.error().getDouble(r, i), 1e-4 * (1 + Math.abs(rec)), rel);
          }
        }
      }
      assertTrue(fired >= t, rel + ": the rows made of decoder directions fire features");
    }
  }

  @Test
  void topKKeepsTheLargestAndBreaksTiesByIndex() {
    float[] p = {0.5f, 3f, -1f, 3f, 2f, 0f};
    assertArrayEquals(new int[] {1, 3, 4}, SaeEncoder.topK(p, 0, 6, 3));
    assertArrayEquals(new int[] {0, 1}, SaeEncoder.topK(p, 4, 2, 2)); // relative to the offset
  }

  @Test
  void anSaeThatNormalisesItsInputIsRefused(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws java.io.IOException {
    java.nio.file.Path src = TestFiles.datasets().resolve("tiny-saelens/blocks.1.hook_resid_pre");
    try (var files = java.nio.file.Files.list(src)) {
      for (java.nio.file.Path f : files.toList()) {
        java.nio.file.Files.copy(f, tmp.resolve(f.getFileName().toString()));
      }
    }
    java.nio.file.Path cfg = tmp.resolve("cfg.json");
    java.nio.file.Files.writeString(
        cfg,
        java.nio.file.Files.readString(cfg)
            .replace(
                "\"normalize_activations\": \"none\"",
                "\"normalize_activations\": \"expected_average_only_in\""));
    try (SaeDictionary sae = SaeDictionary.open(tmp)) {
      Exception e = assertThrows(RuntimeException.class, () -> SaeEncoder.of(sae));
      assertTrue(e.getMessage().contains("cfg.json"), e.getMessage());
      assertTrue(e.getMessage().contains("expected_average_only_in"), e.getMessage());
    }
  }

  @Test
  void aRowOfTheWrongWidthIsOneLine() {
    try (SaeDictionary sae =
        SaeDictionary.open(
            TestFiles.datasets().resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12"))) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> SaeEncoder.of(sae).encode(Nd4j.create(new float[2][7])));
      assertTrue(e.getMessage().contains("[2, 7]"), e.getMessage());
      assertTrue(e.getMessage().contains("width 48"), e.getMessage());
    }
  }
}
