package dev.saelab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code saelab attribute} end to end: the parts it prints add up to the model's score from the
 * forward pass, the pairs' terms add up to the feature-pair part, and bad arguments are one line.
 */
class AttributeCommandTest {
  static final String D = TestFiles.datasets().toString();
  static final String IN = D + "/tiny-gemma-scope/layer_0/width_128/average_l0_12";
  static final String IDS = "2,17,5,33,9,41,12,60";
  @TempDir Path dir;

  static String[] run(String... args) {
    return InspectCommandTest.run(args);
  }

  @Test
  void thePartsAddUpToTheModelsScoreAndThePairsToTheFeaturePart() throws IOException {
    Path out = dir.resolve("a.csv");
    String[] r =
        run(
            "attribute",
            "--model",
            D + "/tiny-gemma2",
            "--sae-in",
            IN,
            "--layer",
            "1",
            "--head",
            "1",
            "--token-ids",
            IDS,
            "--query-pos",
            "6",
            "--key-pos",
            "3",
            "--top",
            "100000",
            "--out",
            out.toString());
    assertEquals("0", r[0], r[2]);
    Matcher m =
        Pattern.compile(
                "score of query 6 on key 3: (\\S+) .*= feature pairs (\\S+) \\+ features×error"
                    + " (\\S+) \\+ error×features (\\S+) \\+ error×error (\\S+) \\+ b_dec (\\S+)"
                    + " \\+ bias (\\S+);")
            .matcher(r[1]);
    assertTrue(m.find(), r[1]);
    double score = Double.parseDouble(m.group(1));
    double sum = 0;
    for (int g = 2; g <= 7; g++) {
      sum += Double.parseDouble(m.group(g));
    }
    assertEquals(score, sum, 1e-4 * Math.abs(score) + 5e-5, "printed with 6 significant digits");
    // the model's own score, from saelab attention (the forward pass's hook_attn_scores)
    Path att = dir.resolve("att.csv");
    assertEquals(
        "0",
        run(
            "attention",
            "--model",
            D + "/tiny-gemma2",
            "--token-ids",
            IDS,
            "--layer",
            "1",
            "--head",
            "1",
            "--out",
            att.toString())[0]);
    double model = Double.NaN;
    for (String line : Files.readAllLines(att)) {
      if (line.startsWith("1,1,6,3,")) {
        model = Double.parseDouble(line.split(",")[4]);
      }
    }
    // soft-cap 50 is nearly the identity at these sizes; the note prints the capped one too
    assertEquals(model, score, 1e-3 * Math.abs(model) + 1e-4);
    double pairs = 0;
    List<String> lines = Files.readAllLines(out);
    assertEquals("circuit,layer,head,rank,query_feature,key_feature,value", lines.get(0));
    for (String line : lines.subList(1, lines.size())) {
      pairs += Double.parseDouble(line.split(",")[6]);
    }
    assertEquals(
        Double.parseDouble(m.group(2)), pairs, 1e-4 * Math.abs(pairs) + 1e-4, "every pair listed");
  }

  @Test
  void ovAndDirectionsAndPathsWriteTheirTables() throws IOException {
    Path ov = dir.resolve("ov.csv");
    String[] r =
        run(
            "attribute",
            "--model",
            D + "/tiny-gemma2",
            "--sae-in",
            IN,
            "--sae-out",
            D + "/tiny-gemma-scope/layer_1/width_96/average_l0_9",
            "--circuit",
            "ov",
            "--layer",
            "1",
            "--head",
            "2",
            "--token-ids",
            IDS,
            "--top",
            "3",
            "--out",
            ov.toString());
    assertEquals("0", r[0], r[2]);
    assertEquals(4, Files.readAllLines(ov).size());
    assertTrue(Files.readAllLines(ov).get(0).startsWith("circuit,layer,head,rank,value_feature"));
    Path dirs = dir.resolve("d.csv");
    r =
        run(
            "attribute",
            "--model",
            D + "/tiny-gpt2",
            "--split",
            "directions",
            "--layer",
            "1",
            "--head",
            "3",
            "--token-ids",
            IDS,
            "--out",
            dirs.toString());
    assertEquals("0", r[0], r[2]);
    List<String> d = Files.readAllLines(dirs);
    double last = Double.parseDouble(d.get(d.size() - 1).split(",")[9]);
    assertEquals(1.0, last, 1e-9, "cumulative share ends at 1");
    Path paths = dir.resolve("p.csv");
    r =
        run(
            "attribute",
            "--model",
            D + "/tiny-gpt2",
            "--split",
            "paths",
            "--layer",
            "1",
            "--head",
            "3",
            "--token-ids",
            IDS,
            "--query-pos",
            "7",
            "--key-pos",
            "3",
            "--out",
            paths.toString());
    assertEquals("0", r[0], r[2]);
    // the strongest head path on tiny-gpt2 (PathTraceTest, against the numpy reference)
    assertTrue(
        Files.readAllLines(paths).get(1).startsWith("L0H3,head,0,3,2,key,"),
        Files.readAllLines(paths).get(1));
  }

  @Test
  void badArgumentsAreOneLineNamingTheFlag() {
    List<String[]> cases = new ArrayList<>();
    cases.add(
        new String[] {
          "--key-pos 5: a query attends only to positions 0..2",
          "--query-pos",
          "2",
          "--key-pos",
          "5"
        });
    cases.add(
        new String[] {"--split bogus: expected features, directions or paths", "--split", "bogus"});
    cases.add(
        new String[] {"--circuit ov splits by features", "--circuit", "ov", "--split", "paths"});
    cases.add(new String[] {"--query-pos 9: the input has positions 0..7", "--query-pos", "9"});
    cases.add(new String[] {"--head 7: the layer has heads 0..3", "--head", "7"});
    for (String[] c : cases) {
      List<String> args =
          new ArrayList<>(
              List.of(
                  "attribute",
                  "--model",
                  D + "/tiny-gemma2",
                  "--sae-in",
                  IN,
                  "--layer",
                  "1",
                  "--token-ids",
                  IDS,
                  "--out",
                  dir.resolve("x.csv").toString()));
      if (!List.of(c).contains("--head")) {
        args.addAll(List.of("--head", "1"));
      }
      args.addAll(List.of(c).subList(1, c.length));
      String[] r = run(args.toArray(String[]::new));
      assertEquals("2", r[0], c[0] + ": " + r[1] + r[2]);
      assertTrue(r[2].contains(c[0]), r[2]);
      assertEquals(1, r[2].strip().lines().count(), r[2]);
    }
  }

  @Test
  void recordedActivationsSplitTheSameScores() throws IOException {
    for (String split : List.of("directions", "features")) {
      Path a = dir.resolve(split + "-file.csv");
      Path b = dir.resolve(split + "-run.csv");
      List<String> common =
          List.of(
              "attribute",
              "--model",
              D + "/tiny-gpt2",
              "--sae-in",
              D + "/tiny-saelens/blocks.1.hook_resid_pre",
              "--split",
              split,
              "--layer",
              "1",
              "--head",
              "3");
      List<String> x = new ArrayList<>(common);
      x.addAll(
          List.of("--activations", D + "/tiny-activations/gpt2-cache.npz", "--out", a.toString()));
      List<String> y = new ArrayList<>(common);
      y.addAll(List.of("--token-ids", IDS, "--out", b.toString()));
      String[] r = run(x.toArray(String[]::new));
      assertEquals("0", r[0], r[2]);
      r = run(y.toArray(String[]::new));
      assertEquals("0", r[0], r[2]);
      List<String> fa = Files.readAllLines(a);
      List<String> fb = Files.readAllLines(b);
      assertEquals(fb.size(), fa.size());
      assertEquals(fb.get(0), fa.get(0));
      for (int i = 1; i < fa.size(); i++) {
        String[] ca = fa.get(i).split(",");
        String[] cb = fb.get(i).split(",");
        // same key (the most attended), same rows; values within float32 of each other
        for (int c = 0; c < ca.length; c++) {
          try {
            double va = Double.parseDouble(ca[c]);
            double vb = Double.parseDouble(cb[c]);
            assertEquals(vb, va, 1e-4 * (1 + Math.abs(vb)), split + " line " + i + " column " + c);
          } catch (NumberFormatException text) {
            assertEquals(cb[c], ca[c]);
          }
        }
      }
    }
  }
}
