package dev.saelab.atlas.spark;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.launcher.JavaModuleOptions;

/**
 * The entry point of {@code saelab-atlas.jar}: the {@code saelab} command line ({@link
 * dev.saelab.cli.Main}) with the Spark engine and {@code saelab bench atlas} on its class path.
 * Spark 4 on Java 17 needs JDK packages opened to it, which its own launcher ({@code spark-submit})
 * passes as JVM options; {@code java -jar} cannot, so this JVM reruns itself with them (and with
 * the Vector API module SAE Lab's scan uses) when they are missing.
 */
public final class AtlasMain {
  private AtlasMain() {}

  /** Runs the {@code saelab} command line in a JVM with Spark's options. */
  public static void main(String[] args) throws Exception {
    if (!ready() && System.getProperty("saelab.relaunched") == null) {
      System.exit(relaunch(args, AtlasMain.class.getName()));
    }
    dev.saelab.cli.Main.main(args);
  }

  /** Whether this JVM has what Spark and the scan need: NIO internals opened, the Vector API. */
  static boolean ready() {
    Module me = AtlasMain.class.getModule();
    return Object.class.getModule().isOpen("sun.nio.ch", me)
        && Object.class.getModule().isOpen("java.lang.invoke", me)
        && ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
  }

  /** The options Spark's launcher gives its JVMs on Java 17+ ({@code --add-opens ...}). */
  public static List<String> sparkJvmOptions() {
    return List.of(JavaModuleOptions.defaultModuleOptionArray());
  }

  /** Reruns {@code mainClass} with {@code args} in a JVM with Spark's options; its exit code. */
  static int relaunch(String[] args, String mainClass) throws InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.addAll(sparkJvmOptions());
    cmd.add("-Dsaelab.relaunched=true");
    cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass);
    cmd.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(cmd).inheritIO().start();
      Runtime.getRuntime().addShutdownHook(new Thread(p::destroy));
      return p.waitFor();
    } catch (java.io.IOException e) {
      System.err.println("saelab: could not restart java with Spark's options: " + e.getMessage());
      return 1;
    }
  }
}
