package dev.saelab.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.api.FeatureTable;
import dev.saelab.kernel.ijava.IJavaAdapter;
import dev.saelab.magic.MagicUsageException;
import dev.saelab.testutil.TestFiles;
import io.github.spencerpark.jupyter.kernel.BaseKernel;
import io.github.spencerpark.jupyter.kernel.LanguageInfo;
import io.github.spencerpark.jupyter.kernel.display.DisplayData;
import io.github.spencerpark.jupyter.kernel.display.mime.MIMEType;
import io.github.spencerpark.jupyter.kernel.magic.registry.Magics;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** IJava's kernel library (basekernel 2.3.0): its real Magics registry and Renderer. */
class IJavaAdapterTest {
  static final String D = TestFiles.datasets().toString();

  static final class TestKernel extends BaseKernel {
    @Override
    public DisplayData eval(String expr) {
      throw new UnsupportedOperationException();
    }

    @Override
    public LanguageInfo getLanguageInfo() {
      return new LanguageInfo.Builder("java").build();
    }
  }

  @AfterAll
  static void detach() {
    dev.saelab.kernel.KernelHost.attach("none", null);
  }

  @Test
  void magicsAndRenderersWorkThroughBasekernel() throws Exception {
    TestKernel kernel = new TestKernel();
    Magics magics = new Magics();
    IJavaAdapter.install(kernel, magics);
    IJavaAdapter.install(
        kernel, magics); // idempotent: registering twice would not throw, but is skipped
    assertEquals("ijava", dev.saelab.api.Notebook.kernel());
    magics.applyLineMagic("model", List.of(D + "/tiny-gemma2", "--layer", "1"));
    magics.applyLineMagic("sae", List.of(D + "/tiny-gemma-scope/layer_0/width_128/average_l0_12"));
    FeatureTable t = magics.applyLineMagic("qk", List.of("--heads", "1", "--top", "2"));
    assertEquals(42, t.rows().get(0).colFeature());
    DisplayData dd = kernel.getRenderer().render(t);
    assertTrue(dd.getData(MIMEType.TEXT_HTML).toString().contains("<td>L1H1</td>"));
    Exception e =
        assertThrows(
            Exception.class, () -> magics.applyLineMagic("qk", List.of("--circuit", "qk")));
    Throwable root = e instanceof MagicUsageException ? e : e.getCause();
    assertTrue(root instanceof MagicUsageException, String.valueOf(e));
    assertTrue(root.getMessage().contains("unknown option '--circuit'"), root.getMessage());
    DisplayData plot = kernel.getRenderer().render(magics.applyLineMagic("plot", List.of("top")));
    assertTrue(plot.getData(MIMEType.IMAGE_PNG) != null);
  }
}
