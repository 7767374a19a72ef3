package dev.saelab.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.api.FeatureTable;
import dev.saelab.api.Plot;
import dev.saelab.magic.MagicUsageException;
import dev.saelab.testutil.TestFiles;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dflib.jjava.jupyter.kernel.BaseKernel;
import org.dflib.jjava.jupyter.kernel.BaseNotebookStatics;
import org.dflib.jjava.jupyter.kernel.JupyterIO;
import org.dflib.jjava.jupyter.kernel.LanguageInfo;
import org.dflib.jjava.jupyter.kernel.ReplacementOptions;
import org.dflib.jjava.jupyter.kernel.comm.CommManager;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.display.mime.MIMEType;
import org.dflib.jjava.jupyter.kernel.magic.MagicParser;
import org.dflib.jjava.jupyter.kernel.magic.MagicTranspiler;
import org.dflib.jjava.jupyter.kernel.magic.MagicsRegistry;
import org.dflib.jjava.jupyter.kernel.util.StringStyler;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * JJava 1.0-a6's real kernel library: a BaseKernel with its real MagicsRegistry, the magic parser
 * JJava's Java kernel builds (same pattern) and Renderer; our Extension found through ServiceLoader
 * by the kernel's own installExtensions.
 */
class JJavaAdapterTest {
  /** A kernel without JShell: evaluation is not needed to test extension, magics and rendering. */
  static final class TestKernel extends BaseKernel {
    TestKernel() {
      super(
          "test",
          "1",
          new LanguageInfo("java", "17", "text/x-java", ".java", "java", "java", "java"),
          List.of(),
          null,
          new JupyterIO(StandardCharsets.UTF_8),
          new CommManager(),
          new Renderer(),
          new MagicParser("(?<=(?:^|=))\\s*%", "%%", new MagicTranspiler()),
          new MagicsRegistry(),
          true,
          new StringStyler.Builder().build());
      installNotebookKernel();
    }

    void loadExtensions() {
      installExtensions(JJavaAdapterTest.class.getClassLoader());
    }

    @Override
    public Object evalRaw(String code) {
      throw new UnsupportedOperationException();
    }

    @Override
    public DisplayData inspect(String code, int at, boolean extra) {
      return null;
    }

    @Override
    public ReplacementOptions complete(String code, int at) {
      return null;
    }

    @Override
    public String isComplete(String code) {
      return IS_COMPLETE_YES;
    }
  }

  static TestKernel kernel;
  static final String D = TestFiles.datasets().toString();

  @BeforeAll
  static void start() {
    kernel = new TestKernel();
    kernel.loadExtensions();
    kernel.loadExtensions(); // a second classpath add must not install twice
  }

  @AfterAll
  static void stop() {
    dev.saelab.kernel.KernelHost.attach("none", null);
  }

  /**
   * Runs a notebook line the way JJava does: parse the magic, then the transpiled lineMagic(name,
   * args) call.
   */
  static Object run(String line) {
    String code = kernel.getMagicParser().resolveMagics(line);
    Matcher m = Pattern.compile("decode\\(\"([^\"]*)\"\\)").matcher(code);
    List<String> words = new ArrayList<>();
    while (m.find()) {
      words.add(new String(Base64.getDecoder().decode(m.group(1)), StandardCharsets.UTF_8));
    }
    assertTrue(code.contains(BaseNotebookStatics.class.getName() + ".lineMagic("), code);
    return BaseNotebookStatics.lineMagic(words.get(0), words.subList(1, words.size()));
  }

  @Test
  void magicsAreRegisteredOnceAndAnswer() {
    assertTrue(
        kernel
            .getMagicsRegistry()
            .getLineMagicNames()
            .containsAll(dev.saelab.magic.SaeLabMagics.NAMES));
    run("%model " + D + "/tiny-gemma2 --layer 1");
    run(
        "%sae "
            + D
            + "/tiny-gemma-scope/layer_0/width_128/average_l0_12 --sae-out "
            + D
            + "/tiny-gemma-scope/layer_1/width_96/average_l0_9");
    Object qk = run("FeatureTable t = %qk --heads 1 --top 3");
    assertInstanceOf(FeatureTable.class, qk);
    assertEquals(17, ((FeatureTable) qk).rows().get(0).rowFeature());
    FeatureTable ov = (FeatureTable) run("%ov --heads 2 --top 3");
    assertEquals(63, ov.rows().get(0).colFeature());
    // JJava wraps a magic's exception: "Exception occurred while running line magic 'qk': <our one
    // line>"
    RuntimeException e = assertThrows(RuntimeException.class, () -> run("%qk --top many"));
    assertInstanceOf(MagicUsageException.class, e.getCause());
    assertTrue(e.getMessage().endsWith("%qk: --top many: expected an integer"), e.getMessage());
    assertEquals(
        17,
        ((FeatureTable) run("%qk --heads 1 --top 1")).rows().get(0).rowFeature(),
        "still usable");
    assertEquals("jjava", dev.saelab.api.Notebook.kernel());
  }

  @Test
  void renderersProduceHtmlAndImages() throws Exception {
    FeatureTable t =
        (FeatureTable)
            run(
                "%qk --model "
                    + D
                    + "/tiny-gemma2 --layer 1 --sae-in "
                    + D
                    + "/tiny-gemma-scope/layer_0/width_128/average_l0_12 --heads 1 --top 3");
    DisplayData dd = kernel.getRenderer().render(t);
    assertTrue(dd.getData(MIMEType.TEXT_HTML).toString().contains("<td>L1H1</td>"));
    assertTrue(dd.getData(MIMEType.TEXT_PLAIN).toString().contains("L1H1"));
    Plot p = (Plot) run("%plot top");
    DisplayData img = kernel.getRenderer().render(p);
    assertTrue(img.hasDataForType(MIMEType.IMAGE_PNG));
    assertFalse(img.hasDataForType(MIMEType.IMAGE_SVG), "SVG only on request");
    java.lang.reflect.Field meta =
        DisplayData.class.getDeclaredField("metadata"); // no getter in 1.0-a6
    meta.setAccessible(true);
    assertEquals(
        Map.of("width", 720, "height", 420),
        ((Map<?, ?>) meta.get(img)).get("image/png"),
        "shown at its logical size");
    assertTrue(
        kernel
            .getRenderer()
            .render(p.withSvg())
            .getData(MIMEType.IMAGE_SVG)
            .toString()
            .contains("<svg"));
    DisplayData table = kernel.getRenderer().render(t.toTablesaw());
    assertTrue(table.getData(MIMEType.TEXT_HTML).toString().contains("saelabSort"));
  }
}
