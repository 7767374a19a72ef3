package dev.saelab.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code saelab notebook}: installs a Jupyter kernelspec that runs rapaio-jupyter-kernel 3.0.1 (the Java kernel on
 * Maven Central) with SAE Lab on its classpath, executes notebooks headless with Debian's nbclient and converts them
 * to HTML, or starts the classic notebook server.
 */
public final class NotebookCommand {
  /** The kernelspec name written by {@code install}. */
  public static final String KERNEL = "saelab-rapaio";
  static final String HELP = String.join("\n",
      "usage: saelab notebook install                   write the kernelspec into target/jupyter/kernels/" + KERNEL,
      "       saelab notebook run NOTEBOOK... [--out DIR] [--timeout S] [--server [--port P]]",
      "                                                 execute on that kernel (magic lines become SaeLab.magic(...)",
      "                                                 calls: rapaio has no magic API), then convert to HTML;",
      "                                                 --server: open them in the notebook server instead",
      "       saelab notebook server [--port 8888] [--dir notebooks]   classic notebook server with the kernel",
      "");
  private static final int START_ATTEMPTS = 4;
  private final PrintStream out;
  private final PrintStream err;

  NotebookCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  int run(String[] argv) throws IOException, InterruptedException {
    if (argv.length == 0 || argv[0].equals("--help")) {
      out.print(HELP);
      return argv.length == 0 ? 2 : 0;
    }
    String[] rest = java.util.Arrays.copyOfRange(argv, 1, argv.length);
    switch (argv[0]) {
      case "install":
        new Args("notebook install", rest, List.of(), List.of());
        out.println("kernelspec " + KERNEL + " in " + install() + "; use JUPYTER_PATH=" + jupyterPath());
        return 0;
      case "run":
        return runNotebooks(rest);
      case "server":
        return server(new Args("notebook server", rest, List.of("--port", "--dir"), List.of()));
      default:
        throw new IllegalArgumentException("notebook " + argv[0] + ": expected install, run or server");
    }
  }

  /** Folder of saelab.jar (kernel-ext/target). */
  static Path jarDir() {
    try {
      // target/saelab.jar, or target/classes when run from the build tree: the parent is target/ either way
      return Path.of(NotebookCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getParent();
    } catch (java.net.URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static Path jupyterPath() {
    return jarDir().resolve("jupyter");
  }

  /** Writes {@code target/jupyter/kernels/saelab-rapaio/kernel.json}; returns its folder. */
  public static Path install() throws IOException {
    Path target = jarDir();
    Path jar = target.resolve("saelab.jar");
    Path kernelJar = target.resolve("kernels/rapaio-jupyter-kernel-3.0.1.jar");
    if (!Files.isRegularFile(jar) || !Files.isRegularFile(kernelJar)) {
      throw new IllegalArgumentException("notebook install: " + jar + " or " + kernelJar
          + " is missing; build first with: mvn -q package -DskipTests");
    }
    String cp = kernelJar + ":" + jar + ":" + target.resolve("lib") + "/*";
    String java = ProcessHandle.current().info().command().orElse("java");
    Path dir = jupyterPath().resolve("kernels").resolve(KERNEL);
    Files.createDirectories(dir);
    ObjectMapper om = new ObjectMapper();
    ObjectNode spec = om.createObjectNode();
    ArrayNode a = spec.putArray("argv");
    for (String s : List.of(java, "--add-modules=jdk.incubator.vector", "-Xmx2g", "-Djava.awt.headless=true",
        "-Dorg.bytedeco.javacpp.maxbytes=6g", "-Dorg.bytedeco.javacpp.maxphysicalbytes=10g", "-cp", cp,
        "org.rapaio.jupyter.kernel.MainApp", "{connection_file}")) {
      a.add(s);
    }
    spec.put("display_name", "Java (rapaio 3.0.1 + SAE Lab)");
    spec.put("language", "java");
    spec.put("interrupt_mode", "message");
    ObjectNode env = spec.putObject("env");
    env.put("RJK_COMPILER_OPTIONS", "");
    env.put("RJK_TIMEOUT_MILLIS", "-1");
    env.put("RJK_INIT_SCRIPT", "");
    // JShell's compiler needs our classes too; the JVM class path above makes the display SPI find them.
    env.put("RJK_CLASSPATH", jar + ":" + target.resolve("lib") + "/*.jar");
    env.put("RJK_MIMA_CACHE", "mima_cache");
    Files.writeString(dir.resolve("kernel.json"), om.writerWithDefaultPrettyPrinter().writeValueAsString(spec));
    return dir;
  }

  private int runNotebooks(String[] argv) throws IOException, InterruptedException {
    List<String> notebooks = new ArrayList<>();
    List<String> opts = new ArrayList<>();
    for (int i = 0; i < argv.length; i++) {
      if (argv[i].startsWith("--")) {
        opts.add(argv[i]);
        if (!argv[i].equals("--server") && i + 1 < argv.length) {
          opts.add(argv[++i]);
        }
      } else {
        notebooks.add(argv[i]);
      }
    }
    Args a = new Args("notebook run", opts.toArray(new String[0]), List.of("--out", "--timeout", "--port"),
        List.of("--server"));
    if (notebooks.isEmpty()) {
      throw new IllegalArgumentException("notebook run: expected one or more .ipynb files");
    }
    if (a.has("--server")) {
      Path dir = Path.of(notebooks.get(0)).toAbsolutePath().getParent();
      return server(new Args("notebook server", new String[] {"--dir", dir.toString(), "--port",
          a.get("--port", "8888")}, List.of("--port", "--dir"), List.of()));
    }
    Path outDir = Path.of(a.get("--out", jarDir().resolve("notebooks").toString())).toAbsolutePath();
    Files.createDirectories(outDir);
    install();
    int failed = 0;
    for (String nb : notebooks) {
      Path src = Path.of(nb).toAbsolutePath();
      if (!Files.isRegularFile(src)) {
        throw new IllegalArgumentException("notebook run: " + src + " does not exist");
      }
      Path executed = execute(src, outDir, a.intValue("--timeout", 600));
      List<String> errors = errors(executed);
      Path html = toHtml(executed);
      out.println("executed " + src.getFileName() + " -> " + executed);
      out.println("html     " + html);
      if (!errors.isEmpty()) {
        failed++;
        err.println("notebook " + src.getFileName() + " has error outputs:");
        errors.forEach(e -> err.println("  " + e));
      }
    }
    return failed == 0 ? 0 : 1;
  }

  /** Rewrites magics, executes with nbclient on our kernel (retrying a failed start), returns the executed file. */
  static Path execute(Path src, Path outDir, int timeoutSeconds) throws IOException, InterruptedException {
    ObjectMapper om = new ObjectMapper();
    JsonNode nb = om.readTree(src.toFile());
    for (JsonNode cell : nb.path("cells")) {
      if (cell.path("cell_type").asText().equals("code")) {
        String code = joinSource(cell.path("source"));
        ((ObjectNode) cell).put("source", MagicRewriter.rewriteCell(code));
      }
    }
    ObjectNode ks = ((ObjectNode) nb).withObject("/metadata").putObject("kernelspec");
    ks.put("name", KERNEL).put("display_name", "Java (rapaio 3.0.1 + SAE Lab)").put("language", "java");
    Path in = Files.createTempFile("saelab-nb", ".ipynb");
    Path script = Files.createTempFile("saelab-execute", ".py");
    Path executed = outDir.resolve(src.getFileName());
    try (InputStream res = NotebookCommand.class.getResourceAsStream("/dev/saelab/cli/execute.py")) {
      Files.copy(res, script, StandardCopyOption.REPLACE_EXISTING);
      Files.writeString(in, om.writeValueAsString(nb));
      for (int attempt = 1; ; attempt++) {
        ProcessBuilder pb = new ProcessBuilder("/usr/bin/python3", script.toString(), in.toString(),
            executed.toString(), src.getParent().toString(), KERNEL, Integer.toString(timeoutSeconds));
        pb.environment().put("JUPYTER_PATH", jupyterPath().toString());
        Path log = outDir.resolve(src.getFileName() + ".log"); // the kernel's and nbclient's chatter
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        int code = pb.start().waitFor();
        if (code == 0) {
          return executed;
        }
        if (code != 3 || attempt >= START_ATTEMPTS) {
          throw new IllegalStateException("notebook run: executing " + src + " failed (exit " + code + ", attempt "
              + attempt + "); log: " + log);
        }
        System.err.println("notebook run: the kernel failed to start (attempt " + attempt + "), retrying");
      }
    } finally {
      Files.deleteIfExists(in);
      Files.deleteIfExists(script);
    }
  }

  /** A notebook text field: a string, or a list of lines to concatenate (nbformat allows both). */
  public static String joinSource(JsonNode source) {
    if (source.isArray()) {
      StringBuilder sb = new StringBuilder();
      source.forEach(s -> sb.append(s.asText()));
      return sb.toString();
    }
    return source.isMissingNode() ? "" : source.asText();
  }

  /** The error outputs of an executed notebook, one line each ("ename: evalue"). */
  public static List<String> errors(Path executed) throws IOException {
    List<String> errors = new ArrayList<>();
    for (JsonNode cell : new ObjectMapper().readTree(executed.toFile()).path("cells")) {
      for (JsonNode o : cell.path("outputs")) {
        if (o.path("output_type").asText().equals("error")) {
          errors.add(o.path("ename").asText() + ": " + o.path("evalue").asText());
        }
      }
    }
    return errors;
  }

  private static Path toHtml(Path executed) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder("/usr/bin/jupyter", "nbconvert", "--to", "html", "--log-level=WARN",
        executed.toString());
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String log = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("nbconvert --to html failed for " + executed + ": " + log.strip());
    }
    return executed.resolveSibling(executed.getFileName().toString().replaceFirst("\\.ipynb$", ".html"));
  }

  private int server(Args a) throws IOException, InterruptedException {
    install();
    String dir = a.get("--dir", "notebooks");
    ProcessBuilder pb = new ProcessBuilder("/usr/bin/jupyter", "notebook", "--no-browser", "--port",
        a.get("--port", "8888"), "--notebook-dir", dir);
    Map<String, String> env = pb.environment();
    env.put("JUPYTER_PATH", jupyterPath().toString());
    pb.inheritIO();
    out.println("starting the classic notebook server on " + dir + " with kernel " + KERNEL
        + " (pick it in Kernel > Change kernel; notebooks name JJava's 'java')");
    return pb.start().waitFor();
  }
}
