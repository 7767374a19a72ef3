package dev.saelab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.linalg.Screen;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code saelab bench tables} end to end on a small layer: every line it promises, and the screens' identity check. */
class BenchCommandTest {
  @Test
  void smallBenchPrintsMediansBaselinesAndIdenticalTables() {
    String[] r = InspectCommandTest.run("bench", "tables", "--features", "600", "--top", "20", "--repeat", "2",
        "--no-prune-compare");
    assertEquals("0", r[0], r[2]);
    String o = r[1];
    boolean int8 = Screen.auto() == Screen.INT8; // the AVX-512 build; the generic one screens in float32
    List<String> lines = new java.util.ArrayList<>(List.of("SAE Lab engine, " + Screen.auto() + " screen", "round 2",
        "SAE Lab engine (median of 2)", "same GEMMs alone (median of 2)", "numpy brute force (median of 2)",
        "numpy / engine =", "peak RSS after the engine"));
    if (int8) {
      lines.addAll(List.of("float32 GEMMs alone (median of 2)", "identical tables: true"));
    }
    for (String line : lines) {
      assertTrue(o.contains(line), "missing '" + line + "' in:\n" + o);
    }
    assertEquals(2, o.split("entries rescored exactly\\) round").length - 1, o);
  }

  @Test
  void badRepeatIsNamed() {
    String[] r = InspectCommandTest.run("bench", "tables", "--features", "64", "--repeat", "0", "--no-numpy");
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("--repeat 0: expected a positive number of rounds"), r[2]);
  }
}
