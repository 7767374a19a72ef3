package dev.saelab.forward;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.io.TensorInfo;
import dev.saelab.model.ModelWeights;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The resident-weights {@link ForwardPass.Session} gives exactly the streaming forward's numbers
 * (which {@link ForwardTest} checks against the numpy reference), on prompts of changing length;
 * the Java loops split over threads give exactly the single-thread numbers; the memory estimate is
 * the layers' stored matrices and biases.
 */
class ForwardSessionTest {
  static final String[] MODELS = {
    "tiny-gpt2", "tiny-gemma2", "tiny-gemma3", "tiny-qwen3", "tiny-llama3"
  };

  static void assertSame(Activations want, Activations got, String what) {
    assertEquals(want.byName().keySet(), got.byName().keySet(), what);
    for (String h : want.byName().keySet()) {
      INDArray a = want.get(h);
      INDArray b = got.get(h);
      assertArrayEquals(a.shape(), b.shape(), what + " " + h);
      assertArrayEquals(
          a.dup('c').data().asFloat(), b.dup('c').data().asFloat(), 0f, what + " " + h);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"tiny-gpt2", "tiny-gemma2", "tiny-gemma3", "tiny-qwen3", "tiny-llama3"})
  void sessionGivesTheStreamingNumbers(String model) {
    int[] longer = ForwardTest.LONG;
    int[] shorter = Arrays.copyOf(longer, 5);
    try (ModelWeights m = ModelWeights.open(ForwardTest.model(model));
        ForwardPass.Session s = ForwardPass.load(m)) {
      List<String> hooks = ForwardTest.allHooks(m.config().nLayers());
      assertEquals(ForwardPass.residentBytes(m), s.bytes());
      assertTrue(s.loadSeconds() >= 0);
      for (int[] ids : List.of(longer, shorter, longer)) {
        try (Activations want = ForwardPass.run(m, ids, hooks);
            Activations got = s.run(ids, hooks)) {
          assertSame(want, got, model + " " + ids.length + " tokens");
        }
      }
    }
  }

  @Test
  void threadsSplitNothingDifferently() {
    long min = ForwardPass.parallelMinWork;
    int threads = ForwardPass.threadsOverride;
    try {
      for (String model : MODELS) {
        try (ModelWeights m = ModelWeights.open(ForwardTest.model(model))) {
          List<String> hooks = ForwardTest.allHooks(m.config().nLayers());
          ForwardPass.threadsOverride = 1;
          try (Activations one = ForwardPass.run(m, ForwardTest.LONG, hooks)) {
            ForwardPass.threadsOverride = 3;
            ForwardPass.parallelMinWork = 0;
            try (Activations three = ForwardPass.run(m, ForwardTest.LONG, hooks)) {
              assertSame(one, three, model + " 1 vs 3 threads");
            }
          }
          ForwardPass.parallelMinWork = min;
        }
      }
    } finally {
      ForwardPass.parallelMinWork = min;
      ForwardPass.threadsOverride = threads;
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"tiny-gpt2", "tiny-gemma2", "tiny-qwen3"})
  void residentBytesAreTheLayersMatricesAndBiases(String model) {
    try (ModelWeights m = ModelWeights.open(ForwardTest.model(model))) {
      long elements = 0;
      for (TensorInfo t : m.tensors().tensors()) {
        String n = t.name();
        boolean layer = n.startsWith("h.") || n.contains("layers.");
        boolean norm = n.contains("norm") || n.contains(".ln_");
        // GPT-2's causal-mask buffers, not weights
        boolean mask = n.endsWith(".attn.bias") || n.endsWith(".attn.masked_bias");
        if (layer && !norm && !mask) {
          elements += t.numel();
        }
      }
      assertTrue(elements > 0);
      assertEquals(4 * elements, ForwardPass.residentBytes(m), model);
    }
  }

  @Test
  void closedSessionSaysSo() {
    try (ModelWeights m = ModelWeights.open(ForwardTest.model("tiny-gpt2"))) {
      ForwardPass.Session s = ForwardPass.load(m);
      s.close();
      s.close();
      String msg =
          assertThrows(
                  IllegalStateException.class,
                  () -> s.run(new int[] {1, 2}, List.of("ln_final.hook_normalized")))
              .getMessage();
      assertTrue(msg.contains("closed"), msg);
    }
  }
}
