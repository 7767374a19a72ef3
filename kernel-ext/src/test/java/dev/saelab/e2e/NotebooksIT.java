package dev.saelab.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.cli.NotebookCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every notebook in notebooks/ executed end to end by Debian's nbclient against rapaio-jupyter-kernel 3.0.1 (from
 * Maven Central) with the packaged saelab.jar, through {@code saelab notebook run} — the README's main job. Magic
 * lines run as {@code SaeLab.magic(...)}: the same magic engine, without rapaio's (absent) magic API.
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
    int code = dev.saelab.cli.Main.run(args.toArray(new String[0]), new java.io.PrintStream(stdout, true),
        System.err);
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
        assertTrue(Files.isRegularFile(out.resolve(p.getFileName().toString().replace(".ipynb", ".html"))));
      }
    }
  }

  @Test
  void quickstartShowsThePlantedPairsATableAndAPlot() throws IOException {
    List<JsonNode> o = outputs(executed("00-quickstart.ipynb"));
    List<String> html = o.stream().map(x -> text(x.path("data"), "text/html")).toList();
    List<String> plain = o.stream().map(x -> text(x.path("data"), "text/plain")).toList();
    assertTrue(plain.stream().anyMatch(t -> t.contains("qk L1H1      1      17") && t.contains("->     42")), plain
        .toString());
    assertTrue(plain.stream().anyMatch(t -> t.contains("ov L1H2      1       5") && t.contains("->     63")));
    assertTrue(html.stream().anyMatch(t -> t.contains("<td>L1H1</td>") && t.contains("saelabSort")));
    assertTrue(o.stream().anyMatch(x -> x.path("data").has("image/png")), "a plot");
    assertTrue(o.stream().anyMatch(x -> x.path("data").has("image/svg+xml")), "an SVG plot");
    assertFalse(html.stream().anyMatch(t -> t.contains("Exception")), "no exception text");
  }
}
