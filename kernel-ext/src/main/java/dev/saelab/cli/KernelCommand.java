package dev.saelab.cli;

import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.saelab.io.AtomicFiles;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code saelab kernel install}: adds SAE Lab to a Java kernel the user already has (JJava, IJava
 * or rapaio-jupyter-kernel), by writing SAE Lab's class path and JVM options into its kernelspec,
 * as {@code binder/setup.sh} does on Binder. What it changed is recorded in the kernelspec's {@code
 * metadata.saelab}, so installing again changes nothing more and {@code --remove} gives back the
 * spec as it was.
 */
@Command(
    name = "kernel",
    description =
        "Add SAE Lab to a Java Jupyter kernel you already have (JJava, IJava or rapaio), or take"
            + " it out again.",
    subcommands = {KernelCommand.Install.class})
public final class KernelCommand extends CliCommand {
  /** The key under the kernelspec's {@code metadata} recording what install changed. */
  static final String METADATA_KEY = "saelab";

  /** JVM options every kernel with SAE Lab needs (the Vector API scan; no AWT window). */
  static final String JVM_OPTIONS = "--add-modules=jdk.incubator.vector -Djava.awt.headless=true";

  @Override
  public Integer call() {
    throw new picocli.CommandLine.ParameterException(
        new picocli.CommandLine(this), "expected install");
  }

  /** The Java kernels whose kernelspecs can carry SAE Lab, best first. */
  enum Kind {
    /** dflib/jjava: the class path and the JVM options are environment variables. */
    JJAVA("JJava", "JJAVA_CLASSPATH", "JJAVA_JVM_OPTS"),
    /** SpencerPark/IJava: the class path is a variable; JVM options go into argv. */
    IJAVA("IJava", "IJAVA_CLASSPATH", null),
    /** padreati/rapaio-jupyter-kernel: the class path is a variable; JVM options go into argv. */
    RAPAIO("rapaio", "RJK_CLASSPATH", null);

    final String label;
    final String classPathVar;
    final String jvmOptionsVar;

    Kind(String label, String classPathVar, String jvmOptionsVar) {
      this.label = label;
      this.classPathVar = classPathVar;
      this.jvmOptionsVar = jvmOptionsVar;
    }

    /** The kernel a kernelspec runs, from its argv; null when it is none of these. */
    static Kind of(JsonNode spec) {
      String argv = spec.path("argv").toString().toLowerCase(Locale.ROOT);
      if (argv.contains("jjava")) {
        return JJAVA;
      }
      if (argv.contains("ijava")) {
        return IJAVA;
      }
      if (argv.contains("rapaio")) {
        return RAPAIO;
      }
      return null;
    }
  }

  /** A kernelspec found: its name, folder and kernel. */
  record Spec(String name, Path dir, Kind kind) {
    Path file() {
      return dir.resolve("kernel.json");
    }
  }

  /** {@code saelab kernel install}. */
  @Command(
      name = "install",
      description =
          "Find your JJava kernelspec (else IJava's, else rapaio's) in the Jupyter data folders"
              + " and write SAE Lab's class path and JVM options into its environment"
              + " (JJAVA_CLASSPATH, JJAVA_JVM_OPTS; IJAVA_CLASSPATH or RJK_CLASSPATH and argv for"
              + " the others), keeping your other settings. Installing again changes nothing;"
              + " --remove gives back the kernelspec as it was. Restart the kernel afterwards.",
      footer = {
        "",
        "Examples:",
        "  saelab kernel install",
        "  saelab kernel install --kernelspec java --dry-run",
        "  saelab kernel install --remove"
      })
  public static final class Install extends CliCommand {
    @Option(
        names = "--kernelspec",
        paramLabel = "NAME",
        description = "the kernelspec to change (default: the one JJava, IJava or rapaio kernel)")
    String kernelspec;

    @Option(
        names = "--jupyter-dir",
        paramLabel = "DIR",
        description =
            "a Jupyter data folder: search only its kernels/ (default: every folder Jupyter"
                + " searches, as jupyter --paths lists them)")
    Path jupyterDir;

    @Option(
        names = "--jar",
        paramLabel = "JAR",
        description =
            "the saelab.jar whose lib/ folder holds its dependencies (default: the running one)")
    Path jar;

    @Option(
        names = "--jvm-opts",
        paramLabel = "OPTS",
        description = "more JVM options for the kernel, e.g. \"-Xmx8g\" (yours win over ours)")
    String jvmOptions;

    @Option(names = "--remove", description = "take SAE Lab out of the kernelspec again")
    boolean remove;

    @Option(names = "--dry-run", description = "print the new kernel.json, change nothing")
    boolean dryRun;

    @Override
    public Integer call() throws IOException {
      List<Path> searched = searchFolders(jupyterDir);
      Spec spec = find(searched, kernelspec);
      String before = Files.readString(spec.file(), StandardCharsets.UTF_8);
      String after;
      if (remove) {
        after = remove(before);
      } else {
        List<Path> cp = classPath(jar != null ? jar : runningJar());
        String opts = jvmOptions == null ? JVM_OPTIONS : JVM_OPTIONS + " " + jvmOptions.strip();
        after = install(before, spec.kind(), cp, opts);
      }
      if (dryRun) {
        out.print(after.endsWith("\n") ? after : after + "\n");
        return 0;
      }
      if (!after.equals(before)) {
        AtomicFiles.write(spec.file(), o -> o.write(after.getBytes(StandardCharsets.UTF_8)));
      }
      String what =
          remove
              ? (after.equals(before)
                  ? "had no SAE Lab; left as it was"
                  : "SAE Lab taken out; the kernelspec is as it was before install")
              : "SAE Lab's class path in "
                  + spec.kind().classPathVar
                  + ", JVM options in "
                  + (spec.kind().jvmOptionsVar != null ? spec.kind().jvmOptionsVar : "argv")
                  + (after.equals(before) ? " (already there: unchanged)" : "")
                  + "; restart the kernel";
      out.println(
          "kernelspec "
              + spec.name()
              + " ("
              + spec.kind().label
              + ") "
              + spec.file()
              + ": "
              + what);
      return 0;
    }
  }

  /**
   * The kernels folders to search: {@code DIR/kernels} for {@code --jupyter-dir DIR}, else every
   * Jupyter data folder of this machine ({@link JupyterPaths#dataPath()}, plus the ones {@code
   * jupyter --paths --json} reports, such as the Python environment's) with {@code kernels}
   * appended.
   */
  static List<Path> searchFolders(Path jupyterDir) {
    List<Path> out = new ArrayList<>();
    if (jupyterDir != null) {
      out.add(jupyterDir.resolve("kernels"));
      return out;
    }
    for (String d : JupyterPaths.current().kernelDirs()) {
      out.add(Path.of(d));
    }
    for (String d : jupyterReportedDataDirs()) {
      Path k = Path.of(d).resolve("kernels");
      if (!out.contains(k)) {
        out.add(k);
      }
    }
    return out;
  }

  /** {@code jupyter --paths --json}'s data folders, or none when Jupyter is not on the PATH. */
  private static List<String> jupyterReportedDataDirs() {
    List<String> out = new ArrayList<>();
    try {
      Process p =
          new ProcessBuilder("jupyter", "--paths", "--json")
              .redirectError(ProcessBuilder.Redirect.DISCARD)
              .start();
      byte[] json = p.getInputStream().readAllBytes();
      if (p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0) {
        for (JsonNode d : new ObjectMapper().readTree(json).path("data")) {
          out.add(d.asText());
        }
      } else {
        p.destroy();
      }
    } catch (IOException | RuntimeException e) {
      // no Jupyter on the PATH: the computed folders are all there is
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return out;
  }

  /**
   * The kernelspec to change: {@code name}'s (the first in search order, as Jupyter picks it), or
   * the one JJava kernelspec (else IJava's, else rapaio's).
   */
  static Spec find(List<Path> searched, String name) throws IOException {
    List<Spec> found = new ArrayList<>();
    List<String> names = new ArrayList<>();
    ObjectMapper om = new ObjectMapper();
    for (Path kernels : searched) {
      if (!Files.isDirectory(kernels)) {
        continue;
      }
      List<Path> dirs;
      try (Stream<Path> s = Files.list(kernels)) {
        dirs = s.filter(d -> Files.isRegularFile(d.resolve("kernel.json"))).sorted().toList();
      }
      for (Path d : dirs) {
        String n = d.getFileName().toString();
        if (names.contains(n) || n.equals(NotebookCommand.KERNEL)) {
          continue; // Jupyter uses the first folder's spec of a name; ours is not a user's kernel
        }
        names.add(n);
        JsonNode spec;
        try {
          spec = om.readTree(d.resolve("kernel.json").toFile());
        } catch (IOException e) {
          throw new IllegalArgumentException(
              d.resolve("kernel.json") + ": not a kernelspec (" + e.getMessage() + ")");
        }
        found.add(new Spec(n, d, Kind.of(spec)));
      }
    }
    String where = searched.stream().map(Path::toString).reduce((a, b) -> a + ", " + b).orElse("");
    if (name != null) {
      for (Spec s : found) {
        if (s.name().equals(name)) {
          if (s.kind() == null) {
            throw new IllegalArgumentException(
                "kernelspec "
                    + name
                    + " ("
                    + s.file()
                    + ") runs neither JJava, IJava nor rapaio-jupyter-kernel");
          }
          return s;
        }
      }
      throw new IllegalArgumentException(
          "no kernelspec named " + name + " in " + where + " (found: " + names + ")");
    }
    for (Kind k : Kind.values()) {
      List<Spec> ofKind = found.stream().filter(s -> s.kind() == k).toList();
      if (ofKind.size() == 1) {
        return ofKind.get(0);
      }
      if (ofKind.size() > 1) {
        throw new IllegalArgumentException(
            "several "
                + k.label
                + " kernelspecs: "
                + ofKind.stream().map(Spec::name).toList()
                + "; choose one with --kernelspec NAME");
      }
    }
    throw new IllegalArgumentException(
        "no JJava, IJava or rapaio kernelspec in "
            + where
            + "; install JJava (pip install jjava, or its kernelspec zip with jupyter kernelspec"
            + " install) or name a Jupyter data folder with --jupyter-dir");
  }

  /** The running saelab.jar (target/saelab.jar beside target/classes when run from the build). */
  static Path runningJar() {
    Path jar = NotebookCommand.jarDir().resolve("saelab.jar");
    if (!Files.isRegularFile(jar)) {
      throw new IllegalArgumentException(
          jar + " is missing; build first with: mvn -q package -DskipTests");
    }
    return jar;
  }

  /** {@code jar} then every jar of its {@code lib/} folder, sorted, as absolute paths. */
  static List<Path> classPath(Path jar) throws IOException {
    Path j = jar.toAbsolutePath().normalize();
    if (!Files.isRegularFile(j)) {
      throw new IllegalArgumentException(j + " does not exist");
    }
    Path lib = j.getParent().resolve("lib");
    if (!Files.isDirectory(lib)) {
      throw new IllegalArgumentException(
          lib
              + " is missing (the dependencies of "
              + j.getFileName()
              + "); build with mvn package");
    }
    List<Path> cp = new ArrayList<>(List.of(j));
    try (Stream<Path> s = Files.list(lib)) {
      s.filter(p -> p.getFileName().toString().endsWith(".jar")).sorted().forEach(cp::add);
    }
    return cp;
  }

  /**
   * The kernelspec text with SAE Lab in it: the class path (ours first, then the spec's own) in the
   * kernel's class path variable; the JVM options in {@code JJAVA_JVM_OPTS} (ours first, so the
   * spec's own win) or, for IJava and rapaio, in argv after {@code java}; " + SAE Lab" on the
   * display name. What changed is recorded under {@code metadata.saelab}; a spec that has it is
   * first restored, so installing twice is installing once.
   */
  static String install(String specText, Kind kind, List<Path> classPath, String jvmOptions)
      throws IOException {
    ObjectMapper om = new ObjectMapper();
    String original = originalText(specText);
    ObjectNode spec = (ObjectNode) om.readTree(remove(specText));
    ObjectNode record = om.createObjectNode();
    record.put("original", original);
    record.put("had_env", spec.has("env"));
    record.put("had_metadata", spec.has("metadata"));
    ObjectNode previous = record.putObject("env");
    ObjectNode env = spec.has("env") ? (ObjectNode) spec.get("env") : spec.putObject("env");

    String cp = String.join(File.pathSeparator, classPath.stream().map(Path::toString).toList());
    setVar(env, previous, kind.classPathVar, cp, File.pathSeparator);
    if (kind.jvmOptionsVar != null) {
      setVar(env, previous, kind.jvmOptionsVar, jvmOptions, " ");
    } else {
      ArrayNode argv = (ArrayNode) spec.path("argv");
      if (argv.size() > 0 && isJava(argv.get(0).asText())) {
        // the kernel JVM's own class path too: rapaio compiles cells against it (its class path
        // variable alone leaves "package dev.saelab.api does not exist"), and the display SPI is
        // found through it
        for (int i = 1; i + 1 < argv.size(); i++) {
          String a = argv.get(i).asText();
          if (a.equals("-cp") || a.equals("-classpath") || a.equals("--class-path")) {
            record.put("argv_class_path", argv.get(i + 1).asText());
            argv.set(i + 1, argv.get(i + 1).asText() + File.pathSeparator + cp);
            break;
          }
        }
        ArrayNode inserted = record.putArray("argv");
        List<String> opts = List.of(jvmOptions.strip().split("\\s+"));
        for (int i = 0; i < opts.size(); i++) {
          argv.insert(1 + i, opts.get(i));
          inserted.add(opts.get(i));
        }
      }
    }
    if (spec.has("display_name")) {
      record.put("display_name", spec.get("display_name").asText());
      spec.put("display_name", spec.get("display_name").asText() + " + SAE Lab");
    }
    ObjectNode metadata =
        spec.has("metadata") ? (ObjectNode) spec.get("metadata") : spec.putObject("metadata");
    metadata.set(METADATA_KEY, record);
    return write(om, spec);
  }

  /**
   * The kernelspec text without SAE Lab: every value install changed restored from {@code
   * metadata.saelab}; the original text itself when nothing else changed since (so the file is byte
   * for byte what it was). A spec without that record is returned unchanged.
   */
  static String remove(String specText) throws IOException {
    ObjectMapper om = new ObjectMapper();
    ObjectNode spec = (ObjectNode) om.readTree(specText);
    JsonNode record = spec.path("metadata").path(METADATA_KEY);
    if (!record.isObject()) {
      return specText;
    }
    ObjectNode env = spec.get("env") instanceof ObjectNode o ? o : spec.putObject("env");
    Iterator<Map.Entry<String, JsonNode>> it = record.path("env").fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getValue().isNull()) {
        env.remove(e.getKey());
      } else {
        env.put(e.getKey(), e.getValue().asText());
      }
    }
    if (!record.path("had_env").asBoolean() && spec.path("env").isEmpty()) {
      spec.remove("env");
    }
    ArrayNode argv = spec.path("argv") instanceof ArrayNode a ? a : null;
    JsonNode inserted = record.path("argv");
    if (argv != null && inserted.isArray() && inserted.size() > 0) {
      boolean at1 = argv.size() > inserted.size();
      for (int i = 0; at1 && i < inserted.size(); i++) {
        at1 = argv.get(1 + i).equals(inserted.get(i));
      }
      if (at1) {
        for (int i = 0; i < inserted.size(); i++) {
          argv.remove(1);
        }
      }
    }
    if (argv != null && record.has("argv_class_path")) {
      for (int i = 1; i + 1 < argv.size(); i++) {
        String a = argv.get(i).asText();
        if (a.equals("-cp") || a.equals("-classpath") || a.equals("--class-path")) {
          argv.set(i + 1, record.get("argv_class_path").asText());
          break;
        }
      }
    }
    if (record.has("display_name")) {
      spec.put("display_name", record.get("display_name").asText());
    }
    ObjectNode metadata = (ObjectNode) spec.get("metadata");
    metadata.remove(METADATA_KEY);
    if (!record.path("had_metadata").asBoolean() && metadata.isEmpty()) {
      spec.remove("metadata");
    }
    String original = record.path("original").asText(null);
    if (original != null) {
      try {
        if (om.readTree(original).equals(spec)) {
          return original;
        }
      } catch (IOException e) {
        // an original that no longer parses: the restored JSON below
      }
    }
    return write(om, spec);
  }

  /** The text before the first install ({@code metadata.saelab.original}), else this one. */
  private static String originalText(String specText) throws IOException {
    JsonNode record = new ObjectMapper().readTree(specText).path("metadata").path(METADATA_KEY);
    return record.path("original").isTextual() ? record.get("original").asText() : specText;
  }

  /** Sets {@code name} to ours, followed by its previous value (recorded) when it had one. */
  private static void setVar(
      ObjectNode env, ObjectNode previous, String name, String ours, String separator) {
    JsonNode old = env.get(name);
    if (old == null || old.isNull()) {
      previous.putNull(name);
      env.put(name, ours);
    } else {
      previous.put(name, old.asText());
      env.put(name, old.asText().isBlank() ? ours : ours + separator + old.asText());
    }
  }

  private static boolean isJava(String argv0) {
    String f = argv0.replace('\\', '/');
    f = f.substring(f.lastIndexOf('/') + 1).toLowerCase(Locale.ROOT);
    return f.equals("java") || f.equals("java.exe");
  }

  private static String write(ObjectMapper om, ObjectNode spec) throws IOException {
    DefaultPrettyPrinter pp =
        new DefaultPrettyPrinter().withObjectIndenter(new DefaultIndenter(" ", "\n"));
    return om.writer(pp).writeValueAsString(spec) + "\n";
  }
}
