package dev.saelab.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code saelab kernel install} on a scratch Jupyter data folder holding stand-in kernelspecs with
 * the kernel.json each kernel's installer writes (JJava's, IJava's, rapaio's), and a stand-in
 * saelab.jar with its lib/ folder.
 */
class KernelCommandTest {
  static final String JJAVA =
      "{\"argv\":[\"java\",\"-jar\",\"{resource_dir}/jjava-launcher.jar\",\"{resource_dir}/jjava.jar\",\"{connection_file}\"],\"display_name\":\"Java"
          + " (jjava)\",\"language\":\"java\",\"interrupt_mode\":\"message\"}";
  static final String IJAVA =
      "{\n"
          + " \"argv\": [\n"
          + "  \"java\",\n"
          + "  \"-jar\",\n"
          + "  \"/home/ada/.local/share/jupyter/kernels/java/ijava-1.3.0.jar\",\n"
          + "  \"{connection_file}\"\n"
          + " ],\n"
          + " \"display_name\": \"Java\",\n"
          + " \"language\": \"java\",\n"
          + " \"interrupt_mode\": \"message\",\n"
          + " \"env\": {\n"
          + " }\n"
          + "}";
  static final String RAPAIO =
      "{\"argv\": [\"java\", \"--enable-preview\", \"-jar\","
          + " \"/home/ada/.local/share/jupyter/kernels/rapaio-jupyter-kernel/rapaio-jupyter-kernel-3.0.1.jar\","
          + " \"{connection_file}\"], \"display_name\": \"Java (rjk 3.0.1)\", \"language\":"
          + " \"java\", \"interrupt_mode\": \"message\", \"env\": {\"RJK_COMPILER_OPTIONS\":"
          + " \"-Xlint:none\", \"RJK_INIT_SCRIPT\": \"\", \"RJK_TIMEOUT_MILLIS\": \"-1\","
          + " \"RJK_CLASSPATH\": \"\", \"RJK_MIMA_CACHE\": \"\"}}";

  @TempDir Path tmp;
  Path jupyter;
  Path jar;
  List<String> cp;

  @BeforeEach
  void standIns() throws Exception {
    jupyter = tmp.resolve("Jupyter data"); // a space, as in "Application Support"
    Path target = Files.createDirectories(tmp.resolve("my build/target"));
    jar = Files.writeString(target.resolve("saelab.jar"), "stand-in");
    Files.createDirectories(target.resolve("lib"));
    Files.writeString(target.resolve("lib/nd4j-native-1.0.0-M2.1.jar"), "x");
    Files.writeString(target.resolve("lib/b-1.jar"), "x");
    Files.writeString(target.resolve("lib/notes.txt"), "not a jar");
    cp =
        List.of(
            jar.toString(),
            target.resolve("lib/b-1.jar").toString(),
            target.resolve("lib/nd4j-native-1.0.0-M2.1.jar").toString());
  }

  Path spec(String name, String json) throws Exception {
    Path dir = Files.createDirectories(jupyter.resolve("kernels").resolve(name));
    return Files.writeString(dir.resolve("kernel.json"), json);
  }

  String[] run(String... args) {
    List<String> a = new ArrayList<>(List.of("kernel", "install"));
    a.addAll(List.of(args));
    a.addAll(List.of("--jupyter-dir", jupyter.toString(), "--jar", jar.toString()));
    return InspectCommandTest.run(a.toArray(new String[0]));
  }

  static JsonNode json(Path p) throws Exception {
    return new ObjectMapper().readTree(p.toFile());
  }

  @Test
  void jjavaInstallTwiceIsInstallOnceAndRemoveGivesTheSpecBackByteForByte() throws Exception {
    Path k = spec("java", JJAVA);
    byte[] original = Files.readAllBytes(k);

    String[] r = run();
    assertEquals("0", r[0], r[2]);
    assertEquals(
        "kernelspec java (JJava) "
            + k
            + ": SAE Lab's class path in JJAVA_CLASSPATH, JVM options in JJAVA_JVM_OPTS; restart"
            + " the kernel\n",
        r[1]);
    JsonNode once = json(k);
    assertEquals(String.join(File.pathSeparator, cp), once.at("/env/JJAVA_CLASSPATH").asText());
    assertEquals(
        "--add-modules=jdk.incubator.vector -Djava.awt.headless=true",
        once.at("/env/JJAVA_JVM_OPTS").asText());
    assertEquals("Java (jjava) + SAE Lab", once.get("display_name").asText());
    assertEquals(json(k).get("argv"), new ObjectMapper().readTree(JJAVA).get("argv"), "argv kept");
    byte[] afterOnce = Files.readAllBytes(k);

    r = run();
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains("(already there: unchanged)"), r[1]);
    assertArrayEquals(afterOnce, Files.readAllBytes(k), "install twice = install once");

    r = run("--remove");
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains("SAE Lab taken out"), r[1]);
    assertArrayEquals(original, Files.readAllBytes(k), "the spec as it was");

    r = run("--remove");
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains("had no SAE Lab; left as it was"), r[1]);
    assertArrayEquals(original, Files.readAllBytes(k));
  }

  @Test
  void theUsersOwnSettingsAreKeptAndWin() throws Exception {
    ObjectNode s = (ObjectNode) new ObjectMapper().readTree(JJAVA);
    s.putObject("env")
        .put("JJAVA_CLASSPATH", "/opt/mine.jar")
        .put("JJAVA_JVM_OPTS", "-Xmx12g")
        .put("JJAVA_TIMEOUT", "-1");
    Path k =
        spec("jjava", new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(s));
    byte[] original = Files.readAllBytes(k);
    assertEquals("0", run("--jvm-opts", "-Xss4m")[0]);
    JsonNode env = json(k).get("env");
    assertEquals(
        String.join(File.pathSeparator, cp) + File.pathSeparator + "/opt/mine.jar",
        env.get("JJAVA_CLASSPATH").asText());
    // ours first: the user's -Xmx12g, later on the JVM's command line, wins
    assertEquals(
        "--add-modules=jdk.incubator.vector -Djava.awt.headless=true -Xss4m -Xmx12g",
        env.get("JJAVA_JVM_OPTS").asText());
    assertEquals("-1", env.get("JJAVA_TIMEOUT").asText());

    // the user edits the spec after install: remove takes out only what install put in
    ObjectNode edited = (ObjectNode) json(k);
    ((ObjectNode) edited.get("env")).put("JJAVA_STARTUP_SCRIPT", "int x = 1;");
    Files.writeString(k, edited.toString());
    assertEquals("0", run("--remove")[0]);
    ObjectNode expected = (ObjectNode) new ObjectMapper().readTree(original);
    ((ObjectNode) expected.get("env")).put("JJAVA_STARTUP_SCRIPT", "int x = 1;");
    assertEquals(expected, json(k), "JSON-equal to the original plus the user's edit");
  }

  @Test
  void ijavaAndRapaioGetTheClassPathVariableAndJvmOptionsInArgv() throws Exception {
    for (String[] kind :
        new String[][] {
          {"java", IJAVA, "IJava", "IJAVA_CLASSPATH"}, {"rjk", RAPAIO, "rapaio", "RJK_CLASSPATH"}
        }) {
      Path k = spec(kind[0], kind[1]);
      byte[] original = Files.readAllBytes(k);
      String[] r = run();
      assertEquals("0", r[0], r[2]);
      assertTrue(
          r[1].startsWith("kernelspec " + kind[0] + " (" + kind[2] + ") ")
              && r[1].contains("class path in " + kind[3] + ", JVM options in argv"),
          r[1]);
      JsonNode once = json(k);
      assertEquals(String.join(File.pathSeparator, cp), once.at("/env/" + kind[3]).asText());
      assertEquals("java", once.at("/argv/0").asText());
      assertEquals("--add-modules=jdk.incubator.vector", once.at("/argv/1").asText());
      assertEquals("-Djava.awt.headless=true", once.at("/argv/2").asText());
      byte[] afterOnce = Files.readAllBytes(k);
      assertEquals("0", run()[0]);
      assertArrayEquals(afterOnce, Files.readAllBytes(k), kind[2] + ": install twice = once");
      assertEquals("0", run("--remove")[0]);
      assertArrayEquals(original, Files.readAllBytes(k), kind[2] + ": as it was");
      Files.delete(k);
      Files.delete(k.getParent());
    }
  }

  @Test
  void choosingAmongKernelspecsAndOneLineErrors() throws Exception {
    String[] r = run();
    assertEquals("2", r[0]);
    assertEquals(
        "saelab kernel install: no JJava, IJava or rapaio kernelspec in "
            + jupyter.resolve("kernels")
            + "; install JJava (pip install jjava, or its kernelspec zip with jupyter kernelspec"
            + " install) or name a Jupyter data folder with --jupyter-dir\n",
        r[2]);

    spec(
        "python3", "{\"argv\":[\"python\",\"-m\",\"ipykernel_launcher\"],\"language\":\"python\"}");
    Path rapaio = spec("rjk", RAPAIO);
    Path java = spec("java", JJAVA);
    Path jjava = spec("jjava", JJAVA);
    r = run();
    assertEquals("2", r[0]);
    assertEquals(
        "saelab kernel install: several JJava kernelspecs: [java, jjava]; choose one with"
            + " --kernelspec NAME\n",
        r[2]);
    byte[] before = Files.readAllBytes(jjava);
    r = run("--kernelspec", "java", "--dry-run");
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].contains("\"JJAVA_CLASSPATH\""), r[1]);
    assertEquals(JJAVA, Files.readString(java), "--dry-run changes nothing");
    assertEquals("0", run("--kernelspec", "jjava")[0]);
    assertFalse(Files.readString(jjava).equals(new String(before)));
    assertEquals(JJAVA, Files.readString(java), "only the chosen spec changes");
    assertEquals(RAPAIO, Files.readString(rapaio));

    r = run("--kernelspec", "python3");
    assertEquals("2", r[0]);
    assertTrue(r[2].contains("runs neither JJava, IJava nor rapaio-jupyter-kernel"), r[2]);
    r = run("--kernelspec", "scala");
    assertEquals("2", r[0]);
    assertEquals(1, r[2].lines().count(), r[2]);
    assertTrue(r[2].contains("no kernelspec named scala in " + jupyter.resolve("kernels")), r[2]);
  }

  @Test
  void everyHelpExampleRunsOnAScratchJupyterFolder() throws Exception {
    Path k = spec("java", JJAVA);
    byte[] original = Files.readAllBytes(k);
    CommandLineHolder h = new CommandLineHolder();
    String help = Schema.usage(h.install());
    List<String> examples = HelpExamplesTest.examples(help, "saelab ");
    assertEquals(3, examples.size(), help);
    for (String ex : examples) {
      List<String> w = HelpExamplesTest.words(ex, tmp);
      String[] r = run(w.subList(3, w.size()).toArray(new String[0]));
      assertEquals("0", r[0], ex + "\n" + r[2]);
    }
    // the last example removes what the first installed
    assertArrayEquals(original, Files.readAllBytes(k));
  }

  /** The {@code kernel install} command line. */
  static final class CommandLineHolder {
    picocli.CommandLine install() {
      return Main.commandLine(System.out, System.err)
          .getSubcommands()
          .get("kernel")
          .getSubcommands()
          .get("install");
    }
  }
}
