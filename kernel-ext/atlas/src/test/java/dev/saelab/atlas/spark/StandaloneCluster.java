package dev.saelab.atlas.spark;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real Spark standalone cluster on the loopback address, for tests: a master and workers, each a
 * separate JVM started from the atlas jar's class path ({@code atlas-lib/}), which also serves as
 * the workers' {@code SPARK_HOME/jars} for the executors they launch. Every process (and the
 * executors below it) is killed on {@link #close}.
 */
final class StandaloneCluster implements AutoCloseable {
  private final Path dir;
  private final Path lib;
  private final Path sparkHome;
  private final int port;
  private final Process master;
  private final List<Process> workers = new ArrayList<>();
  private final List<Process> others = new ArrayList<>();

  StandaloneCluster(Path dir, Path lib, int workers) throws IOException, InterruptedException {
    this.dir = dir;
    this.lib = lib;
    this.sparkHome = dir.resolve("spark-home");
    Files.createDirectories(sparkHome);
    Files.createSymbolicLink(sparkHome.resolve("jars"), lib);
    this.port = freePort();
    boolean ok = false;
    try {
      master =
          start(
              "master",
              List.of(
                  "org.apache.spark.deploy.master.Master",
                  "--host",
                  "127.0.0.1",
                  "--port",
                  "" + port,
                  "--webui-port",
                  "0"));
      await(
          master, dir.resolve("master.log"), "I have been elected leader", Duration.ofSeconds(90));
      for (int i = 1; i <= workers; i++) {
        Files.createDirectories(dir.resolve("work-" + i));
        Process w =
            start(
                "worker-" + i,
                List.of(
                    "org.apache.spark.deploy.worker.Worker",
                    url(),
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    "1",
                    "--memory",
                    "1g",
                    "--webui-port",
                    "0",
                    "--work-dir",
                    dir.resolve("work-" + i).toString()));
        this.workers.add(w);
      }
      for (int i = 1; i <= workers; i++) {
        await(
            this.workers.get(i - 1),
            dir.resolve("worker-" + i + ".log"),
            "Successfully registered with master",
            Duration.ofSeconds(90));
      }
      ok = true;
    } finally {
      if (!ok) {
        close();
      }
    }
  }

  /** The master's URL. */
  String url() {
    return "spark://127.0.0.1:" + port;
  }

  /** Worker {@code i} (from 1). */
  Process worker(int i) {
    return workers.get(i - 1);
  }

  /** A log file of this cluster ({@code master}, {@code worker-1}, ...). */
  Path log(String name) {
    return dir.resolve(name + ".log");
  }

  /** Kills worker {@code i} and the executors it launched, as if its machine went away. */
  void killWorker(int i) {
    kill(workers.get(i - 1));
  }

  /** The JVM options of every process here: Spark's module options, a small heap. */
  static List<String> jvm(String heap) {
    List<String> o = new ArrayList<>(AtlasMain.sparkJvmOptions());
    o.add("-Xmx" + heap);
    return o;
  }

  /** A JVM with {@code args} on the cluster's environment; output to {@code dir/name.log}. */
  Process start(String name, List<String> args) throws IOException {
    return start(name, lib.resolve("*").toString(), args);
  }

  /**
   * A JVM with class path {@code cp} (null: {@code args} say it, e.g. {@code -jar}), logged to
   * {@code dir/name.log}; killed on close.
   */
  Process start(String name, String cp, List<String> args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvm(cp == null ? "1g" : "512m"));
    if (cp != null) {
      cmd.add("-cp");
      cmd.add(cp);
    }
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.redirectOutput(dir.resolve(name + ".log").toFile());
    Map<String, String> env = pb.environment();
    env.put("SPARK_HOME", sparkHome.toString());
    env.put("SPARK_SCALA_VERSION", "2.13");
    env.put("SPARK_LOCAL_IP", "127.0.0.1");
    env.remove("SPARK_TESTING");
    Process p = pb.start();
    if (!name.startsWith("master") && !name.startsWith("worker")) {
      others.add(p);
    }
    return p;
  }

  /** Waits until {@code log} contains {@code line}; fails when the process dies or time is up. */
  static void await(Process p, Path log, String line, Duration timeout)
      throws IOException, InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      if (Files.exists(log) && Files.readString(log, StandardCharsets.UTF_8).contains(line)) {
        return;
      }
      if (!p.isAlive()) {
        throw new IllegalStateException(
            log.getFileName() + " exited " + p.exitValue() + ": " + tail(log));
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException(
        "no '" + line + "' in " + log + " after " + timeout + ": " + tail(log));
  }

  static String tail(Path log) throws IOException {
    if (!Files.exists(log)) {
      return "(no log)";
    }
    String s = Files.readString(log, StandardCharsets.UTF_8);
    return s.substring(Math.max(0, s.length() - 3000));
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  static void kill(Process p) {
    List<ProcessHandle> tree = new ArrayList<>(p.descendants().toList());
    p.destroyForcibly();
    for (ProcessHandle h : tree) {
      h.destroyForcibly();
    }
    try {
      p.waitFor(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    List<Process> all = new ArrayList<>(others);
    all.addAll(workers);
    if (master != null) {
      all.add(master);
    }
    for (Process p : all) {
      kill(p);
    }
  }
}
