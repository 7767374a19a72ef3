package dev.saelab.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The offline part of the Binder image build, run from the same script Binder runs ({@code
 * binder/setup.sh}): the packaged jar, a JJava kernelspec (here a stand-in with JJava's
 * kernel.json, since JJava is not on Maven Central) installed by {@code jupyter kernelspec install}
 * into a scratch prefix, and the kernel environment written.
 */
class BinderIT {
  @Test
  void setupScriptInstallsTheKernelspecWithSaeLabOnTheClassPath() throws Exception {
    Path repo =
        Path.of(System.getProperty("saelab.notebooks.dir", "../notebooks"))
            .toAbsolutePath()
            .normalize()
            .getParent();
    Path scratch = Files.createTempDirectory("saelab-binder-it");
    Path jjava = Files.createDirectories(scratch.resolve("jjava"));
    Files.writeString(
        jjava.resolve("kernel.json"),
        "{\"argv\":[\"java\",\"-jar\",\"{resource_dir}/jjava-launcher.jar\",\"{resource_dir}/jjava.jar\",\"{connection_file}\"],\"display_name\":\"Java"
            + " (jjava)\",\"language\":\"java\",\"interrupt_mode\":\"message\"}");
    Path prefix = scratch.resolve("prefix");
    ProcessBuilder pb =
        new ProcessBuilder("bash", repo.resolve("binder/setup.sh").toString())
            .redirectErrorStream(true);
    pb.environment().put("SAELAB_SKIP_BUILD", "1");
    pb.environment().put("SAELAB_JJAVA_DIR", jjava.toString());
    pb.environment().put("SAELAB_PREFIX", prefix.toString());
    pb.environment().put("PATH", "/usr/bin:/bin:" + pb.environment().getOrDefault("PATH", ""));
    Process p = pb.start();
    String log = new String(p.getInputStream().readAllBytes());
    assertEquals(0, p.waitFor(), log);
    Path spec = prefix.resolve("share/jupyter/kernels/java/kernel.json");
    JsonNode k = new ObjectMapper().readTree(spec.toFile());
    assertEquals("java", k.get("language").asText());
    String cp = k.get("env").get("JJAVA_CLASSPATH").asText();
    assertTrue(cp.startsWith(repo.resolve("kernel-ext/target/saelab.jar").toString()), cp);
    for (String entry : cp.split(":")) {
      assertTrue(Files.isRegularFile(Path.of(entry)), "class path entry exists: " + entry);
    }
    assertTrue(cp.contains("nd4j-native"), "dependencies are listed");
    String opts = k.get("env").get("JJAVA_JVM_OPTS").asText();
    assertTrue(opts.contains("-Xmx700m") && opts.contains("jdk.incubator.vector"), opts);
  }
}
