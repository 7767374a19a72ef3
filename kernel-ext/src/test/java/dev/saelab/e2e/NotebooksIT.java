package dev.saelab.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.cli.NotebookCommand;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every notebook in notebooks/ executed end to end by Debian's nbclient against
 * rapaio-jupyter-kernel 3.0.1 (from Maven Central) with the packaged saelab.jar, through {@code
 * saelab notebook run} — the README's main job. Magic lines run as {@code SaeLab.magic(...)}: the
 * same magic engine, without rapaio's (absent) magic API.
 */
class NotebooksIT {
  static Path notebooks = Path.of(System.getProperty("saelab.notebooks.dir", "../notebooks"));
  static Path out;

  @BeforeAll
  static void run() throws Exception {
    out = Files.createTempDirectory("saelab-notebooks-it");
    List<String> args = new ArrayList<>(List.of("notebook", "run"));
    try (Stream<Path> s = Files.list(notebooks)) {
      s.filter(p -> p.toString().endsWith(".ipynb")).sorted().forEach(p -> args.add(p.toString()));
    }
    args.addAll(List.of("--out", out.toString()));
    java.io.ByteArrayOutputStream stdout = new java.io.ByteArrayOutputStream();
    int code =
        dev.saelab.cli.Main.run(
            args.toArray(new String[0]), new java.io.PrintStream(stdout, true), System.err);
    System.out.print(stdout);
    assertEquals(0, code, "saelab notebook run: " + stdout);
  }

  static JsonNode executed(String name) throws IOException {
    return new ObjectMapper().readTree(out.resolve(name).toFile());
  }

  static List<JsonNode> outputs(JsonNode nb) {
    List<JsonNode> o = new ArrayList<>();
    nb.path("cells").forEach(c -> c.path("outputs").forEach(o::add));
    return o;
  }

  static String text(JsonNode data, String mime) {
    return NotebookCommand.joinSource(data.path(mime));
  }

  @Test
  void everyNotebookRanWithoutErrorOutputs() throws IOException {
    try (Stream<Path> s = Files.list(notebooks)) {
      for (Path p : s.filter(x -> x.toString().endsWith(".ipynb")).toList()) {
        Path e = out.resolve(p.getFileName());
        assertTrue(Files.isRegularFile(e), "executed " + e);
        assertEquals(List.of(), NotebookCommand.errors(e), p.getFileName() + " error outputs");
        assertTrue(
            Files.isRegularFile(
                out.resolve(p.getFileName().toString().replace(".ipynb", ".html"))));
      }
    }
  }

  static final Pattern IMG = Pattern.compile("<img\\b[^>]*>");
  static final Pattern DATA_PNG = Pattern.compile("src=\"data:image/png;base64,([^\"]*)\"");
  static final Pattern SVG = Pattern.compile("<svg\\b[^>]*>(.*?)</svg>", Pattern.DOTALL);

  /** An attribute of a tag as nbconvert writes it: {@code width=720} or {@code width="720"}. */
  static int intAttribute(String tag, String name) {
    Matcher m = Pattern.compile("\\s" + name + "=\"?(\\d+)").matcher(tag);
    assertTrue(m.find(), "no " + name + " in " + tag.replaceAll("base64,[^\"]*", "base64,..."));
    return Integer.parseInt(m.group(1));
  }

  /**
   * What a reader of the exported HTML sees: every plot (an {@code image/png} output, or a PNG
   * inside an HTML output such as an Analysis) is an {@code <img>} with a real PNG drawn at least
   * twice the size it is shown at, and no SVG was emptied by nbconvert's sanitiser.
   */
  @Test
  void everyPlotIsAVisiblePngInTheConvertedHtml() throws IOException {
    int total = 0;
    try (Stream<Path> s = Files.list(notebooks)) {
      for (Path p : s.filter(x -> x.toString().endsWith(".ipynb")).sorted().toList()) {
        String name = p.getFileName().toString();
        int plots = 0;
        for (JsonNode o : outputs(executed(name))) {
          if (o.path("data").has("image/png")) {
            plots++;
            JsonNode size = o.path("metadata").path("image/png");
            assertTrue(
                size.path("width").asInt() > 0 && size.path("height").asInt() > 0,
                name + ": a PNG output without its display size: " + o.path("metadata"));
          }
          Matcher m = DATA_PNG.matcher(text(o.path("data"), "text/html"));
          while (m.find()) {
            plots++;
          }
        }
        String html = Files.readString(out.resolve(name.replace(".ipynb", ".html")));
        int imgs = 0;
        Matcher img = IMG.matcher(html);
        while (img.find()) {
          String tag = img.group();
          Matcher src = DATA_PNG.matcher(tag);
          if (!src.find()) {
            continue;
          }
          imgs++;
          byte[] png = Base64.getDecoder().decode(src.group(1));
          assertTrue(png.length > 1000, name + ": image " + imgs + " has " + png.length + " bytes");
          assertArrayEquals(
              new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'},
              Arrays.copyOf(png, 8),
              name + ": image " + imgs + " is not a PNG");
          ByteBuffer ihdr = ByteBuffer.wrap(png);
          int w = intAttribute(tag, "width");
          int h = intAttribute(tag, "height");
          assertTrue(
              ihdr.getInt(16) >= 2 * w && ihdr.getInt(20) >= 2 * h,
              name
                  + ": image "
                  + imgs
                  + " is "
                  + ihdr.getInt(16)
                  + "x"
                  + ihdr.getInt(20)
                  + " px, shown at "
                  + w
                  + "x"
                  + h);
        }
        assertEquals(
            plots, imgs, name + ": every plot output is an <img> with PNG data in the HTML");
        Matcher svg = SVG.matcher(html);
        while (svg.find()) {
          assertTrue(
              svg.group(1).contains("<"),
              name + ": an empty <svg> (sanitised away): " + svg.group());
        }
        total += plots;
      }
    }
    assertTrue(total >= 2, "the notebooks draw plots: " + total);
  }

  @Test
  void quickstartShowsThePlantedPairsATableAndAPlot() throws IOException {
    List<JsonNode> o = outputs(executed("00-quickstart.ipynb"));
    List<String> html = o.stream().map(x -> text(x.path("data"), "text/html")).toList();
    List<String> plain = o.stream().map(x -> text(x.path("data"), "text/plain")).toList();
    assertTrue(
        plain.stream()
            .anyMatch(t -> t.contains("qk L1H1      1      17") && t.contains("->     42")),
        plain.toString());
    assertTrue(
        plain.stream()
            .anyMatch(t -> t.contains("ov L1H2      1       5") && t.contains("->     63")));
    assertTrue(
        html.stream().anyMatch(t -> t.contains("<td>L1H1</td>") && t.contains("saelabSort")));
    assertTrue(o.stream().anyMatch(x -> x.path("data").has("image/png")), "a plot");
    assertFalse(
        o.stream().anyMatch(x -> x.path("data").has("image/svg+xml")), "SVG only on request");
    assertFalse(html.stream().anyMatch(t -> t.contains("Exception")), "no exception text");
  }
}
