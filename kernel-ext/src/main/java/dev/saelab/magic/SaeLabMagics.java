package dev.saelab.magic;

import dev.saelab.api.FeatureTable;
import dev.saelab.api.Plots;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.cli.CliCommand;
import dev.saelab.cli.Layer;
import dev.saelab.cli.MagicRewriter;
import dev.saelab.cli.Schema;
import dev.saelab.cli.Shared;
import dev.saelab.io.SaeLabException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/**
 * The line magics, kernel-neutral, made from the same option schema as the command line ({@link
 * Schema}): a magic is the command without {@code saelab}, with the same options, and returns the
 * object the Java API returns ({@code FeatureTable t = %qk --heads 1}). The loading flags ({@code
 * --model}, {@code --sae-in}, ...) load and remember in the {@link Session}; {@code %model}, {@code
 * %sae}, {@code %labels}, {@code %plot} and {@code %saelab} exist only in notebooks. Every magic
 * answers {@code --help}; a wrong argument throws {@link MagicUsageException} with one line.
 */
public final class SaeLabMagics {
  /** The magic names each kernel adapter registers. */
  public static final List<String> NAMES = MagicRewriter.NAMES;

  /** The notebook-only magics, by name. */
  private static final Map<String, Supplier<Object>> NOTEBOOK_ONLY = new LinkedHashMap<>();

  static {
    NOTEBOOK_ONLY.put("saelab", SaelabMagic::new);
    NOTEBOOK_ONLY.put("model", LoadMagics.Model::new);
    NOTEBOOK_ONLY.put("sae", LoadMagics.Sae::new);
    NOTEBOOK_ONLY.put("labels", LoadMagics.Labels::new);
    NOTEBOOK_ONLY.put("plot", PlotMagic::new);
  }

  private static final SaeLabMagics SHARED = new SaeLabMagics();
  private final Session session = new Session();
  private final Consumer<String> warnings;

  /** An engine whose warnings (labels that cannot be confirmed to fit their SAE) go to stderr. */
  public SaeLabMagics() {
    this(System.err::println);
  }

  /** An engine whose warnings go to {@code warnings}. */
  public SaeLabMagics(Consumer<String> warnings) {
    this.warnings = warnings;
  }

  /** The magic engine shared by every kernel adapter and {@code SaeLab.magic}. */
  public static SaeLabMagics shared() {
    return SHARED;
  }

  /** The session state (what the magics have loaded). */
  public Session session() {
    return session;
  }

  /**
   * Runs one magic line, {@code "qk --heads 1"} (a leading {@code %} is optional); returns what the
   * magic returns.
   */
  public Object line(String line) {
    String s = line.strip();
    if (s.startsWith("%")) {
      s = s.substring(1);
    }
    List<String> words = split(s);
    if (words.isEmpty()) {
      throw new MagicUsageException("empty magic line; try %saelab help");
    }
    return eval(words.get(0), words.subList(1, words.size()));
  }

  /** Runs a line magic by name. */
  public Object eval(String name, List<String> args) {
    Object command = newCommand(name);
    CommandLine cl = commandLine(command, name);
    try {
      cl.parseArgs(args.toArray(new String[0]));
      if (cl.isUsageHelpRequested()) {
        return new Text(Schema.usage(cl));
      }
      return run(name, command);
    } catch (ParameterException e) {
      throw new MagicUsageException("%" + name + ": " + Schema.message(e));
    } catch (MagicUsageException | SaeLabException e) {
      throw e;
    } catch (IllegalArgumentException e) {
      throw new MagicUsageException("%" + name + ": " + e.getMessage());
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new SaeLabException("%" + name + ": " + e.getMessage(), e);
    }
  }

  private static Object newCommand(String name) {
    Supplier<CliCommand> shared = Schema.SHARED.get(name);
    if (shared != null) {
      return shared.get();
    }
    Supplier<Object> own = NOTEBOOK_ONLY.get(name);
    if (own == null) {
      throw new MagicUsageException(
          "unknown SAE Lab magic %" + name + " (valid: %" + String.join(", %", NAMES) + ")");
    }
    return own.get();
  }

  /**
   * The magic's command line: the command's schema named {@code %name}, its examples in magic form.
   */
  private CommandLine commandLine(Object command, String name) {
    PrintStream err = new PrintStream(new WarningStream(warnings), true, StandardCharsets.UTF_8);
    if (command instanceof CliCommand c) {
      c.io(System.out, err);
    }
    CommandLine cl = Schema.commandLine(command, "%" + name, System.out, err);
    String[] footer = cl.getCommandSpec().usageMessage().footer();
    String[] magic = new String[footer.length];
    for (int i = 0; i < footer.length; i++) {
      magic[i] = footer[i].replaceFirst("^  saelab ", "  %");
    }
    cl.getCommandSpec().usageMessage().footer(magic);
    return cl;
  }

  private Object run(String name, Object command) throws Exception {
    if (command instanceof Shared s) {
      Layer layer = s.inputs() == null ? null : session.layerFor(s.inputs());
      Object result = s.result(layer);
      if (result instanceof FeatureTable t) {
        session.lastTable = t;
      }
      return result instanceof String text ? new Text(text) : result;
    }
    if (command instanceof dev.saelab.cli.ModelShared ms) {
      if (ms.model() != null) {
        try (dev.saelab.model.ModelWeights m = ms.openModel()) {
          return ms.result(m, forwardSession());
        }
      }
      if (session.model == null) {
        throw new MagicUsageException(
            "%" + name + ": no model loaded (use %model PATH, or --model DIR)");
      }
      return ms.result(session.model, forwardSession());
    }
    if (command instanceof dev.saelab.cli.ForwardShared f) {
      if (f.input().model() != null) {
        try (dev.saelab.model.ModelWeights m = f.input().openModel()) {
          return f.result(m, forwardSession());
        }
      }
      if (session.model == null) {
        throw new MagicUsageException(
            "%" + name + ": no model loaded (use %model PATH, or --model DIR)");
      }
      f.input().tokenIds(session.model);
      return f.result(session.model, forwardSession());
    }
    if (command instanceof LoadMagics.Load l) {
      return load(name, l);
    }
    if (command instanceof PlotMagic p) {
      return plot(p);
    }
    return saelab((SaelabMagic) command);
  }

  private dev.saelab.cli.ForwardShared.Session forwardSession() {
    return new dev.saelab.cli.ForwardShared.Session(
        session.layer, session.saeIn, session.saeOut, session.labelsIn, session.labelsOut);
  }

  private Object load(String name, LoadMagics.Load l) {
    Object loaded = session.load(l.path == null ? l.inputs : l.inputs.with(l.flag(), l.path));
    if (loaded == null && l.inputs.layer() == null) {
      throw new MagicUsageException("%" + name + ": expected a PATH (see %" + name + " --help)");
    }
    return switch (name) {
      case "model" -> session.model;
      default -> loaded; // the last one loaded (in, key, out)
    };
  }

  private Object plot(PlotMagic p) {
    switch (p.what) {
      case "top" -> {
        if (session.lastTable == null) {
          throw new MagicUsageException("%plot top: no table yet (run %qk or %ov first)");
        }
        return Plots.topValues(session.lastTable);
      }
      case "block" -> {
        if (p.circuit == null || !(p.circuit.equals("qk") || p.circuit.equals("ov"))) {
          throw new MagicUsageException(
              "%plot block: expected qk or ov, then --head H [--rows a:b] [--cols a:b]");
        }
        try (FeatureCircuits fc = circuits()) {
          return Plots.circuitBlock(
              fc,
              p.circuit.equals("qk") ? CircuitKind.QK : CircuitKind.OV,
              head(p),
              p.rows.values(),
              p.cols.values());
        }
      }
      case "norms" -> {
        try (FeatureCircuits fc = circuits()) {
          return Plots.queryKeyNorms(fc, head(p));
        }
      }
      default ->
          throw new MagicUsageException("%plot " + p.what + ": expected top, block or norms");
    }
  }

  private static int head(PlotMagic p) {
    if (p.head == null) {
      throw new MagicUsageException("%plot " + p.what + ": which head? (--head H)");
    }
    return p.head;
  }

  private FeatureCircuits circuits() {
    if (session.model == null || session.layer == null) {
      throw new MagicUsageException(
          "%plot: load a model and choose a layer first (%model PATH --layer L)");
    }
    Layer l = session.layerFor(new dev.saelab.cli.InputOptions());
    return new dev.saelab.api.CircuitQuery(l.model(), l.layer())
        .saeIn(l.saeIn())
        .saeKey(l.saeKey())
        .saeOut(l.saeOut())
        .warnings(warnings)
        .open();
  }

  private Object saelab(SaelabMagic m) {
    String sub = m.words.isEmpty() ? "help" : m.words.get(0);
    return switch (sub) {
      case "help" -> new Text(help("saelab"));
      case "status" -> new Text(session.describe());
      case "reset" -> {
        session.reset();
        yield new Text("SAE Lab session reset");
      }
      default -> {
        if (NAMES.contains(sub) && !sub.equals("saelab")) {
          yield eval(sub, m.words.subList(1, m.words.size()));
        }
        throw new MagicUsageException(
            "%saelab "
                + sub
                + ": expected help, status, reset or one of "
                + String.join(", ", NAMES.subList(1, NAMES.size())));
      }
    };
  }

  /** Help for one magic, or every magic's help with its examples for "saelab"/"help". */
  public static String help(String name) {
    if (name.equals("saelab") || name.equals("help")) {
      StringBuilder sb =
          new StringBuilder(
              "SAE Lab magics: each is the saelab command of the same name, with the"
                  + " same options (see also SaeLab in Java).\n\n");
      for (String n : NAMES) {
        sb.append(usage(n)).append('\n');
      }
      return sb.toString();
    }
    return usage(name);
  }

  private static String usage(String name) {
    return Schema.usage(new SaeLabMagics().commandLine(newCommand(name), name));
  }

  /** Help and status text: renders as preformatted text in every kernel. */
  public record Text(String text) implements dev.saelab.render.MimeBundle {
    @Override
    public Map<String, Object> mimeBundle() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("text/html", "<pre>" + dev.saelab.render.HtmlTables.escape(text) + "</pre>");
      m.put("text/plain", text);
      return m;
    }

    @Override
    public String toString() {
      return text;
    }
  }

  /** Sends each line a command prints to its error stream (warnings) to the warnings sink. */
  private static final class WarningStream extends java.io.OutputStream {
    private final Consumer<String> sink;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();

    WarningStream(Consumer<String> sink) {
      this.sink = sink;
    }

    @Override
    public void write(int b) {
      if (b == '\n') {
        sink.accept(line.toString(StandardCharsets.UTF_8));
        line.reset();
      } else {
        line.write(b);
      }
    }
  }

  /**
   * Splits a magic line into words like a shell: whitespace-separated, "double" or 'single' quotes
   * group.
   */
  public static List<String> split(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    char quote = 0;
    boolean inWord = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
        } else {
          cur.append(c);
        }
      } else if (c == '"' || c == '\'') {
        quote = c;
        inWord = true;
      } else if (Character.isWhitespace(c)) {
        if (inWord) {
          out.add(cur.toString());
          cur.setLength(0);
          inWord = false;
        }
      } else {
        cur.append(c);
        inWord = true;
      }
    }
    if (quote != 0) {
      throw new MagicUsageException("unterminated " + quote + " quote in: " + line);
    }
    if (inWord) {
      out.add(cur.toString());
    }
    return out;
  }
}
