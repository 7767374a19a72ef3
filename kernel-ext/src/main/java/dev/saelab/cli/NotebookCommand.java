package dev.saelab.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code saelab notebook}: installs a Jupyter kernelspec that runs rapaio-jupyter-kernel 3.0.1 (the
 * Java kernel on Maven Central) with SAE Lab on its classpath, executes notebooks headless with
 * Debian's nbclient and converts them to HTML, or starts the classic notebook server.
 */
@Command(
    name = "notebook",
    description =
        "Install the Java kernel with SAE Lab (rapaio-jupyter-kernel 3.0.1, the"
            + " kernelspec "
            + NotebookCommand.KERNEL
            + "), run notebooks headless and convert them to HTML, or start the"
            + " classic notebook server.",
    subcommands = {
      NotebookCommand.Install.class,
      NotebookCommand.Run.class,
      NotebookCommand.Server.class
    })
public final class NotebookCommand extends CliCommand {
  /** The kernelspec name written by {@code install}. */
  public static final String KERNEL = "saelab-rapaio";

  private static final int START_ATTEMPTS = 4;

  @Override
  public Integer call() {
    throw new picocli.CommandLine.ParameterException(
        new picocli.CommandLine(this), "expected install, run or server");
  }

  /** {@code saelab notebook install}. */
  @Command(
      name = "install",
      description = "Write the kernelspec into target/jupyter/kernels/" + KERNEL + ".")
  public static final class Install extends CliCommand {
    @Override
    public Integer call() throws IOException {
      out.println(
          "kernelspec " + KERNEL + " in " + install() + "; use JUPYTER_PATH=" + jupyterPath());
      return 0;
    }
  }

  /** {@code saelab notebook run}. */
  @Command(
      name = "run",
      description =
          "Execute notebooks on the kernel (magic lines become SaeLab.magic(...) calls: rapaio has"
              + " no magic API), then convert them to HTML; --server opens them in the notebook"
              + " server instead.",
      footer = {"", "Examples:", "  saelab notebook run notebooks/00-quickstart.ipynb"})
  public static final class Run extends CliCommand {
    @Parameters(arity = "1..*", paramLabel = "NOTEBOOK", description = ".ipynb files")
    List<Path> notebooks;

    @Option(
        names = "--out",
        paramLabel = "DIR",
        description =
            "where the executed notebooks and HTML go (default" + " kernel-ext/target/notebooks)")
    Path outDir;

    @Option(
        names = "--timeout",
        paramLabel = "S",
        defaultValue = "600",
        converter = Converters.PositiveConverter.class,
        description = "seconds per cell (default ${DEFAULT-VALUE})")
    int timeout;

    @Option(names = "--server", description = "open them in the classic notebook server instead")
    boolean server;

    @Option(
        names = "--port",
        paramLabel = "P",
        defaultValue = "8888",
        converter = Converters.PositiveConverter.class,
        description = "the server's port (default ${DEFAULT-VALUE})")
    int port;

    @Override
    public Integer call() throws IOException, InterruptedException {
      if (server) {
        return serve(notebooks.get(0).toAbsolutePath().getParent().toString(), port, out);
      }
      return runNotebooks(notebooks, outDir, timeout, out, err);
    }
  }

  /** {@code saelab notebook server}. */
  @Command(
      name = "server",
      description =
          "The classic notebook server with the kernel (apt-get install"
              + " jupyter-notebook first).")
  public static final class Server extends CliCommand {
    @Option(
        names = "--port",
        paramLabel = "P",
        defaultValue = "8888",
        converter = Converters.PositiveConverter.class,
        description = "port (default ${DEFAULT-VALUE})")
    int port;

    @Option(
        names = "--dir",
        paramLabel = "DIR",
        defaultValue = "notebooks",
        description = "notebook folder (default ${DEFAULT-VALUE})")
    String dir;

    @Override
    public Integer call() throws IOException, InterruptedException {
      return serve(dir, port, out);
    }
  }

  /**
   * A Python tool: Debian's {@code /usr/bin/NAME} on Linux where it exists (a pyenv shim first on
   * the PATH may not import Jupyter's packages), else {@code NAME} from the PATH (macOS, Windows,
   * where Python is {@code python}).
   */
  static String tool(String name) {
    String os = System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT);
    if (os.startsWith("linux") && Files.isExecutable(Path.of("/usr/bin", name))) {
      return "/usr/bin/" + name;
    }
    return os.startsWith("windows") && name.equals("python3") ? "python" : name;
  }

  /** Folder of saelab.jar (kernel-ext/target). */
  static Path jarDir() {
    try {
      // target/saelab.jar, or target/classes when run from the build tree: the parent is target/
      // either way
      return Path.of(
              NotebookCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI())
          .getParent();
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
      throw new IllegalArgumentException(
          "notebook install: "
              + jar
              + " or "
              + kernelJar
              + " is missing; build first with: mvn -q package -DskipTests");
    }
    // the JVM's class path separator: ; on Windows, : elsewhere
    String sep = File.pathSeparator;
    String cp = kernelJar + sep + jar + sep + target.resolve("lib") + File.separator + "*";
    String java = ProcessHandle.current().info().command().orElse("java");
    Path dir = jupyterPath().resolve("kernels").resolve(KERNEL);
    Files.createDirectories(dir);
    ObjectMapper om = new ObjectMapper();
    ObjectNode spec = om.createObjectNode();
    ArrayNode a = spec.putArray("argv");
    for (String s :
        List.of(
            java,
            "--add-modules=jdk.incubator.vector",
            "-Xmx2g",
            "-Djava.awt.headless=true",
            "-Dorg.bytedeco.javacpp.maxbytes=6g",
            "-Dorg.bytedeco.javacpp.maxphysicalbytes=10g",
            "-cp",
            cp,
            "org.rapaio.jupyter.kernel.MainApp",
            "{connection_file}")) {
      a.add(s);
    }
    spec.put("display_name", "Java (rapaio 3.0.1 + SAE Lab)");
    spec.put("language", "java");
    spec.put("interrupt_mode", "message");
    ObjectNode env = spec.putObject("env");
    env.put("RJK_COMPILER_OPTIONS", "");
    env.put("RJK_TIMEOUT_MILLIS", "-1");
    env.put("RJK_INIT_SCRIPT", "");
    // JShell's compiler needs our classes too; the JVM class path above makes the display SPI find
    // them.
    env.put("RJK_CLASSPATH", jar + sep + target.resolve("lib") + File.separator + "*.jar");
    env.put("RJK_MIMA_CACHE", "mima_cache");
    Files.writeString(
        dir.resolve("kernel.json"), om.writerWithDefaultPrettyPrinter().writeValueAsString(spec));
    return dir;
  }

  private static int runNotebooks(
      List<Path> notebooks, Path outOption, int timeout, PrintStream out, PrintStream err)
      throws IOException, InterruptedException {
    Path outDir = (outOption != null ? outOption : jarDir().resolve("notebooks")).toAbsolutePath();
    Files.createDirectories(outDir);
    install();
    int failed = 0;
    for (Path nb : notebooks) {
      Path src = nb.toAbsolutePath();
      if (!Files.isRegularFile(src)) {
        throw new IllegalArgumentException("notebook run: " + src + " does not exist");
      }
      Path executed = execute(src, outDir, timeout);
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

  /**
   * Rewrites magics, executes with nbclient on our kernel (retrying a failed start), returns the
   * executed file.
   */
  static Path execute(Path src, Path outDir, int timeoutSeconds)
      throws IOException, InterruptedException {
    ObjectMapper om = new ObjectMapper();
    JsonNode nb = om.readTree(src.toFile());
    for (JsonNode cell : nb.path("cells")) {
      if (cell.path("cell_type").asText().equals("code")) {
        String code = joinSource(cell.path("source"));
        ((ObjectNode) cell).put("source", MagicRewriter.rewriteCell(code));
      }
    }
    ObjectNode ks = ((ObjectNode) nb).withObject("/metadata").putObject("kernelspec");
    ks.put("name", KERNEL)
        .put("display_name", "Java (rapaio 3.0.1 + SAE Lab)")
        .put("language", "java");
    Path in = Files.createTempFile("saelab-nb", ".ipynb");
    Path script = Files.createTempFile("saelab-execute", ".py");
    Path executed = outDir.resolve(src.getFileName());
    try (InputStream res =
        NotebookCommand.class.getResourceAsStream("/dev/saelab/cli/execute.py")) {
      Files.copy(res, script, StandardCopyOption.REPLACE_EXISTING);
      Files.writeString(in, om.writeValueAsString(nb));
      for (int attempt = 1; ; attempt++) {
        ProcessBuilder pb =
            new ProcessBuilder(
                tool("python3"),
                script.toString(),
                in.toString(),
                executed.toString(),
                src.getParent().toString(),
                KERNEL,
                Integer.toString(timeoutSeconds));
        pb.environment().put("JUPYTER_PATH", jupyterPath().toString());
        Path log =
            outDir.resolve(src.getFileName() + ".log"); // the kernel's and nbclient's chatter
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        int code = pb.start().waitFor();
        if (code == 0) {
          return executed;
        }
        if (code != 3 || attempt >= START_ATTEMPTS) {
          throw new IllegalStateException(
              "notebook run: executing "
                  + src
                  + " failed (exit "
                  + code
                  + ", attempt "
                  + attempt
                  + "); log: "
                  + log);
        }
        System.err.println(
            "notebook run: the kernel failed to start (attempt " + attempt + "), retrying");
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
    ProcessBuilder pb =
        new ProcessBuilder(
            tool("jupyter"), "nbconvert", "--to", "html", "--log-level=WARN", executed.toString());
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String log =
        new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException(
          "nbconvert --to html failed for " + executed + ": " + log.strip());
    }
    return executed.resolveSibling(
        executed.getFileName().toString().replaceFirst("\\.ipynb$", ".html"));
  }

  private static int serve(String dir, int port, PrintStream out)
      throws IOException, InterruptedException {
    install();
    ProcessBuilder pb =
        new ProcessBuilder(
            tool("jupyter"),
            "notebook",
            "--no-browser",
            "--port",
            String.valueOf(port),
            "--notebook-dir",
            dir);
    Map<String, String> env = pb.environment();
    env.put("JUPYTER_PATH", jupyterPath().toString());
    pb.inheritIO();
    out.println(
        "starting the classic notebook server on "
            + dir
            + " with kernel "
            + KERNEL
            + " (pick it in Kernel > Change kernel; notebooks name JJava's 'java')");
    return pb.start().waitFor();
  }
}
