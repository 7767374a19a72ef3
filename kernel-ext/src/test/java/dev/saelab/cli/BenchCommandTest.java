package dev.saelab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.MemoryEstimate;
import dev.saelab.linalg.Screen;
import dev.saelab.model.ModelConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code saelab bench tables} end to end on a small layer: every line it promises, the screens'
 * identity check, the peers (numpy, PyTorch) with their BLAS named, and the refusal to compare
 * against the reference BLAS.
 */
class BenchCommandTest {
  /** Debian's reference BLAS (package libblas3, which python3-numpy pulls in). */
  private static final Path REFERENCE_BLAS = Path.of("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3");

  private static String[] small;
  private static String torchMissing;

  @BeforeAll
  static void smallRun() throws Exception {
    small =
        InspectCommandTest.run(
            "bench",
            "tables",
            "--features",
            "600",
            "--top",
            "20",
            "--repeat",
            "2",
            "--no-prune-compare");
    Process p =
        new ProcessBuilder(BenchCommand.PYTHON, "-c", "import torch")
            .redirectErrorStream(true)
            .start();
    String why = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    torchMissing = p.waitFor() == 0 ? null : why.substring(why.lastIndexOf('\n') + 1);
  }

  @Test
  void smallBenchPrintsMediansBaselinesAndIdenticalTables() {
    assertEquals("0", small[0], small[2]);
    String o = small[1];
    boolean int8 =
        Screen.auto() == Screen.INT8; // the AVX-512 build; the generic one screens in float32
    List<String> lines =
        new java.util.ArrayList<>(
            List.of(
                "SAE Lab engine, " + Screen.auto() + " screen",
                "round 2",
                "SAE Lab engine (median of 2)",
                "same GEMMs alone (median of 2)",
                "peak RSS after the engine"));
    if (int8) {
      lines.addAll(List.of("float32 GEMMs alone (median of 2)", "identical tables: true"));
    }
    for (String line : lines) {
      assertTrue(o.contains(line), "missing '" + line + "' in:\n" + o);
    }
    assertEquals(2, o.split("entries rescored exactly\\) round").length - 1, o);
  }

  @Test
  void numpyPeerNamesItsBlasAndComparesOnlyOnAnOptimisedOne() {
    String o = small[1];
    Matcher blas =
        Pattern.compile(
                "(?m)^  numpy 1\\.\\d+\\S* BLAS: (OpenBLAS|MKL|BLIS|ATLAS|Accelerate|Arm PL|NVPL"
                    + "|unknown) \\(")
            .matcher(o);
    if (o.contains("numpy peer skipped: numpy ")) { // this machine's numpy is on the reference BLAS
      assertTrue(
          o.contains("uses the reference BLAS") && o.contains("install libopenblas0-pthread"), o);
      assertFalse(
          blas.find() || o.contains("numpy brute force") || o.contains("numpy / engine"), o);
    } else {
      assertTrue(blas.find(), "no line naming numpy's BLAS in:\n" + o);
      assertTrue(
          Pattern.compile(
                  "numpy brute force \\(median of 2\\) +\\d+\\.\\d\\d s, peak RSS \\d+ MiB +rounds"
                      + " \\[.*\\]; numpy / engine = \\d+\\.\\dx the time \\(target >= 8\\),"
                      + " \\d+\\.\\dx the memory")
              .matcher(o)
              .find(),
          o);
      // numpy's own peak, not the JVM's that Linux carries across exec into getrusage: a
      // 600-feature numpy run needs
      // less than this JVM
      Matcher rss =
          Pattern.compile(
                  "peak RSS after the engine +(\\d+) MiB(?s:.*)numpy brute force.*peak RSS"
                      + " (\\d+) MiB")
              .matcher(o);
      assertTrue(rss.find() && Integer.parseInt(rss.group(2)) < Integer.parseInt(rss.group(1)), o);
    }
  }

  @Test
  void torchPeerPrintsTimeMemoryAndAgreesWithNumpy() {
    String o = small[1];
    if (torchMissing != null) {
      assertTrue(
          o.contains("  PyTorch peer skipped: torch is not importable by /usr/bin/python3 (")
              && o.contains("apt-get install python3-torch"),
          o);
    }
    assumeTrue(
        torchMissing == null,
        "PyTorch is not importable by "
            + BenchCommand.PYTHON
            + " ("
            + torchMissing
            + "): apt-get install python3-torch");
    assumeTrue(
        !o.contains("PyTorch peer skipped: PyTorch"), "torch is on the reference BLAS here: " + o);
    assertTrue(
        Pattern.compile("(?m)^  PyTorch 1\\.\\S+ BLAS: \\w.*; torch threads \\d+")
            .matcher(o)
            .find(),
        o);
    assertTrue(
        Pattern.compile(
                "PyTorch brute force \\(median of 2\\) +\\d+\\.\\d\\d s, peak RSS \\d+ MiB +rounds"
                    + " \\[.*\\]; torch / engine = \\d+\\.\\dx the time, \\d+\\.\\dx the memory")
            .matcher(o)
            .find(),
        o);
    if (!o.contains("numpy peer skipped")) { // the same top entry of every product as numpy's
      assertTrue(o.contains("; same top entries as numpy: true"), o);
    }
  }

  @Test
  void noPeersWithTheirFlags() {
    String[] r =
        InspectCommandTest.run(
            "bench",
            "tables",
            "--features",
            "64",
            "--top",
            "5",
            "--no-numpy",
            "--no-torch",
            "--no-baseline",
            "--no-prune-compare",
            "--no-screen-compare");
    assertEquals("0", r[0], r[2]);
    assertFalse(r[1].contains("numpy") || r[1].contains("PyTorch") || r[1].contains("BLAS"), r[1]);
  }

  @Test
  void theFloat32FloorCanBeSkippedAndTheInt8FloorStillRuns() {
    String[] r =
        InspectCommandTest.run(
            "bench",
            "tables",
            "--features",
            "256",
            "--top",
            "5",
            "--screen",
            "int8",
            "--no-numpy",
            "--no-torch",
            "--no-prune-compare",
            "--no-screen-compare",
            "--no-fp32-floor");
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains("float32 GEMMs alone: skipped (--no-fp32-floor)"), r[1]);
    assertTrue(r[1].contains("same GEMMs alone") && r[1].contains("engine / GEMMs = "), r[1]);
  }

  @Test
  void shapesAreTheGemmaModelsAndABadShapeNamesTheValidOnes() {
    String[] r =
        InspectCommandTest.run(
            "bench",
            "tables",
            "--shape",
            "gemma-3-4b",
            "--heads",
            "1",
            "--features",
            "64",
            "--top",
            "5",
            "--no-torch",
            "--no-baseline",
            "--no-prune-compare",
            "--no-screen-compare");
    assertEquals("0", r[0], r[2]);
    assertTrue(
        r[1].startsWith(
            "bench tables: synthetic Gemma 3 4B layer (d_model 2560, 8 heads, 4 KV heads, d_head"
                + " 256; q_norm/k_norm left out"),
        r[1]);
    assertTrue(r[1].contains(", heads 1, top-5") && r[1].contains("first table row: L13H1 "), r[1]);
    // the brute force computes every head, so it is not compared with one
    assertTrue(r[1].contains("  numpy peer skipped: it computes every head"), r[1]);
    ModelConfig c1 = BenchCommand.Shape.GEMMA_3_1B.config();
    assertEquals(
        List.of(1152, 4, 1, 256), List.of(c1.dModel(), c1.nHeads(), c1.nKvHeads(), c1.dHead()));
    ModelConfig c2 = BenchCommand.Shape.GEMMA_2_2B.config();
    assertEquals(
        List.of(2304, 8, 4, 256), List.of(c2.dModel(), c2.nHeads(), c2.nKvHeads(), c2.dHead()));

    String[] bad = InspectCommandTest.run("bench", "tables", "--shape", "gemma-3-27b");
    assertEquals("2", bad[0]);
    assertEquals("", bad[1]);
    assertEquals(
        "saelab bench tables: --shape gemma-3-27b: expected gemma-2-2b, gemma-3-1b or gemma-3-4b"
            + " (the shapes of the synthetic layer)",
        bad[2].strip());
  }

  @Test
  void peersAreSkippedWhenTheirDenseMatricesCannotFit() {
    ModelConfig c = BenchCommand.Shape.GEMMA_3_4B.config();
    long machine = 24L << 30;
    String numpy = BenchCommand.tooBigForMemory("numpy", 262144, c, machine);
    assertTrue(
        numpy.startsWith("its brute force would hold dense 262144 x 262144 matrices (275 GB each")
            && numpy.contains("about 1117 GB at its peak")
            && !numpy.contains("\n"),
        numpy);
    assertTrue(BenchCommand.tooBigForMemory("torch", 262144, c, machine).contains("about 1667 GB"));
    // 16k runs: numpy needs about 5 GB
    assertEquals(null, BenchCommand.tooBigForMemory("numpy", 16384, c, machine));
    assertEquals(null, BenchCommand.tooBigForMemory("numpy", 262144, c, 0)); // unknown: try
    assertTrue(BenchCommand.peerPeakBytes("numpy", 16384, c) < 6e9);
    assertTrue(BenchCommand.peerPeakBytes("torch", 16384, c) < 8e9); // measured 7.2e9 on 3 1B
  }

  @Test
  void aWholeGemma3LayerAt262kFitsTheDefaultOffHeapLimitAnd12GiB() {
    ModelConfig c = BenchCommand.Shape.GEMMA_3_4B.config();
    long n = 262144;
    long projections = 4 * n * (2 * 2048 + 2 * 1024); // Q, P [n, 8·256]; K, V [n, 4·256]
    long estimate = MemoryEstimate.projections(c, n, n, n);
    // realistic: the projections and one folded row block, not whole folded copies
    assertTrue(estimate >= projections && estimate < projections * 1.05, estimate + "");
    long inputs = 2 * 4 * n * 2560;
    long tables =
        MemoryEstimate.tables(
            c, n, n, FeatureCircuits.INT8_TILE_ROWS, FeatureCircuits.INT8_TILE_COLS);
    assertTrue(estimate < 8L << 30 && tables < 8L << 30); // Backend's default maxbytes
    // the bench's peak: inputs while projecting (freed before the tables), or the tables' copies
    assertTrue(Math.max(inputs + estimate, estimate + tables) < 11.5 * (1L << 30));
  }

  @Test
  void referenceBlasIsRefusedEndToEnd() throws Exception {
    assumeTrue(
        Files.exists(REFERENCE_BLAS),
        REFERENCE_BLAS + " (Debian's libblas3) is absent: no reference BLAS to" + " load");
    // The peers' python loads the reference BLAS ahead of the alternatives' choice; the machine is
    // not changed.
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    BenchCommand.Tables tables = new BenchCommand.Tables();
    tables.io(
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    tables.peerEnv = Map.of("LD_LIBRARY_PATH", REFERENCE_BLAS.getParent().toString());
    new picocli.CommandLine(tables)
        .parseArgs(
            "--features",
            "64",
            "--top",
            "5",
            "--no-baseline",
            "--no-prune-compare",
            "--no-screen-compare");
    int code = tables.call();
    String o = out.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
    assertTrue(
        Pattern.compile(
                "(?m)^  numpy peer skipped: numpy \\S+ uses the reference BLAS"
                    + " \\(/usr/lib/x86_64-linux-gnu/blas/libblas\\.so\\.3[.\\d]*\\), .*install"
                    + " libopenblas0-pthread.*$")
            .matcher(o)
            .find(),
        o);
    assertFalse(
        o.contains("numpy brute force") || o.contains("numpy / engine") || o.contains(" BLAS: "),
        o);
    if (torchMissing == null) { // torch's GEMMs go through libblas.so.3 too
      assertTrue(
          o.contains("  PyTorch peer skipped: PyTorch ") && !o.contains("torch / engine"), o);
    }
  }

  @Test
  void blasIsClassifiedFromWhatThePeerFound() {
    String deb = "/usr/lib/x86_64-linux-gnu/";
    assertKind(
        BenchCommand.Blas.Kind.OPENBLAS,
        deb + "openblas-pthread/libopenblasp-r0.3.21.so",
        deb + "openblas-pthread/libblas.so.3",
        "openblas_get_config: OpenBLAS 0.3.21 DYNAMIC_ARCH Haswell; 2 threads");
    // OpenBLAS' copy of the generic name, as the alternatives system points at it
    assertKind(
        BenchCommand.Blas.Kind.OPENBLAS,
        "update-alternatives: " + deb + "openblas-pthread/libblas.so.3");
    assertKind(
        BenchCommand.Blas.Kind.OPENBLAS,
        "/venv/lib/python3.11/site-packages/numpy.libs/" + "libscipy_openblas64_-ff651d7f.so");
    assertKind(
        BenchCommand.Blas.Kind.OPENBLAS,
        "threadpoolctl: openblas 0.3.23 /x/libopenblas64_p-r0-2f7c42d4.so");
    assertKind(
        BenchCommand.Blas.Kind.REFERENCE,
        deb + "blas/libblas.so.3.11.0",
        deb + "lapack/liblapack.so.3.11.0");
    assertKind(
        BenchCommand.Blas.Kind.REFERENCE, "update-alternatives: " + deb + "blas/libblas.so.3");
    assertKind(BenchCommand.Blas.Kind.REFERENCE, "libblas.so.3");
    assertKind(
        BenchCommand.Blas.Kind.REFERENCE, "/usr/lib64/libcblas.so.3"); // Fedora's reference package
    // mapped beside OpenBLAS (OpenBLAS' LAPACK), the reference libblas still serves the GEMMs
    assertKind(
        BenchCommand.Blas.Kind.REFERENCE,
        deb + "openblas-pthread/libopenblasp-r0.3.21.so",
        deb + "blas/libblas.so.3.11.0",
        "openblas_get_config: OpenBLAS 0.3.21 Haswell; 2 threads");
    assertKind(BenchCommand.Blas.Kind.MKL, "/opt/intel/oneapi/mkl/2024.0/lib/libmkl_rt.so.2");
    assertKind(
        BenchCommand.Blas.Kind.MKL, "threadpoolctl: mkl 2024.0 /opt/conda/lib/libmkl_rt.so.2");
    assertKind(BenchCommand.Blas.Kind.BLIS, deb + "blis-openmp/libblas.so.3");
    assertKind(BenchCommand.Blas.Kind.ATLAS, deb + "atlas/libblas.so.3");
    assertKind(BenchCommand.Blas.Kind.UNKNOWN);
    assertKind(
        BenchCommand.Blas.Kind.UNKNOWN,
        "numpy build-time: ['blas', 'blas']",
        deb + "lapack/liblapack.so.3");
    assertKind(
        BenchCommand.Blas.Kind.UNKNOWN,
        "/usr/lib/python3/dist-packages/scipy/linalg/_fblas.so",
        "/usr/lib64/libflexiblas.so.3");
  }

  @Test
  void onlyTheReferenceBlasIsRefused() {
    for (BenchCommand.Blas.Kind k : BenchCommand.Blas.Kind.values()) {
      String line =
          BenchCommand.blasLine("numpy", "1.24.2", new BenchCommand.Blas(k, "/x/libblas.so.3"), "");
      boolean refused =
          line.startsWith(
                  "  numpy peer skipped: numpy 1.24.2 uses the reference BLAS (/x/libblas.so.3)")
              && line.contains("install libopenblas0-pthread")
              && !line.contains("\n");
      assertEquals(k == BenchCommand.Blas.Kind.REFERENCE, refused, k + ": " + line);
      assertEquals(
          k != BenchCommand.Blas.Kind.REFERENCE,
          line.startsWith("  numpy 1.24.2 BLAS: "),
          k + ": " + line);
    }
  }

  @Test
  void peersAgreeOnlyOnTheSameTopEntries() throws Exception {
    ObjectMapper m = new ObjectMapper();
    var a = m.readTree("[[180862, 153.93797302246094], [18097, -163.72418212890625]]");
    assertTrue(BenchCommand.sameTops(a, m.readTree("[[180862, 153.9379], [18097, -163.7242]]")));
    assertFalse(
        BenchCommand.sameTops(
            a, m.readTree("[[180862, 153.93797302246094], [18098, -163.72418212890625]]")));
    assertFalse(
        BenchCommand.sameTops(
            a, m.readTree("[[180862, 153.93797302246094], [18097, 163.72418212890625]]")));
    assertFalse(BenchCommand.sameTops(a, m.readTree("[[180862, 153.93797302246094]]")));
  }

  private static void assertKind(BenchCommand.Blas.Kind kind, String... evidence) {
    BenchCommand.Blas b = BenchCommand.classifyBlas(List.of(evidence));
    assertEquals(kind, b.kind(), String.join(" | ", evidence) + " -> " + b);
  }

  @Test
  void badRepeatIsNamed() {
    String[] r =
        InspectCommandTest.run(
            "bench", "tables", "--features", "64", "--repeat", "0", "--no-numpy");
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("--repeat 0: expected a positive number of rounds"), r[2]);
  }
}
