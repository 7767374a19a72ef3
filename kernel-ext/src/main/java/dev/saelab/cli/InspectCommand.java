package dev.saelab.cli;

import dev.saelab.io.NpyFile;
import dev.saelab.io.NpzFile;
import dev.saelab.io.SaeLabException;
import dev.saelab.io.SafetensorsFile;
import dev.saelab.io.ShardedSafetensors;
import dev.saelab.io.TensorInfo;
import dev.saelab.io.TensorSource;
import dev.saelab.labels.FeatureLabels;
import dev.saelab.labels.NeuronpediaLabels;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import dev.saelab.sae.SaeConfig;
import dev.saelab.sae.SaeDictionary;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code saelab inspect PATH...} / {@code %inspect}: what a file or folder is, with shapes and
 * counts.
 */
@Command(
    name = "inspect",
    description =
        "Describe model folders (config, heads, norms, RoPE), SAEs (Gemma Scope, SAELens: d_in,"
            + " d_sae, architecture, hook), safetensors/npz/npy files (tensors with dtype and"
            + " shape) and Neuronpedia label exports; folders are searched for all of these. Reads"
            + " headers only.",
    footer = {
      "",
      "Examples:",
      "  saelab inspect datasets/tiny-gemma2",
      "  saelab inspect datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12/params.npz"
    })
public final class InspectCommand extends CliCommand implements Shared {
  private static final int MAX_TENSORS_LISTED = 40;

  @Parameters(arity = "1..*", paramLabel = "PATH", description = "files or folders")
  List<String> paths;

  @Override
  public InputOptions inputs() {
    return null;
  }

  @Override
  public Object result(Layer layer) {
    java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
    PrintStream saved = out;
    out = new PrintStream(buf, true, java.nio.charset.StandardCharsets.UTF_8);
    try {
      call();
    } finally {
      out = saved;
    }
    return buf.toString(java.nio.charset.StandardCharsets.UTF_8);
  }

  @Override
  public Integer call() {
    for (String a : paths) {
      Path p = Path.of(a);
      if (!Files.exists(p)) {
        throw SaeLabException.inFile(p, "no such file or folder");
      }
      if (!describe(p)) {
        if (!Files.isDirectory(p) || !walk(p)) {
          throw SaeLabException.inFile(
              p,
              "not a recognised file or folder (expected a model folder with config.json, "
                  + "an SAE folder, .safetensors, .npz, .npy, or a Neuronpedia export)");
        }
      }
    }
    return 0;
  }

  /** Describes p if it is a recognised item; false if not. */
  boolean describe(Path p) {
    if (Files.isDirectory(p)) {
      // a Gemma Scope 2 folder has a config.json too: its params.safetensors says it is an SAE
      if (Files.isRegularFile(p.resolve("config.json"))
          && !Files.isRegularFile(p.resolve("params.safetensors"))) {
        model(p);
        return true;
      }
      if (Files.isRegularFile(p.resolve("params.npz"))
          || Files.isRegularFile(p.resolve("params.safetensors"))
          || (Files.isRegularFile(p.resolve("cfg.json"))
              && Files.isRegularFile(p.resolve("sae_weights.safetensors")))) {
        sae(p);
        return true;
      }
      if (hasBatches(p) || hasBatches(p.resolve("explanations"))) {
        labels(p);
        return true;
      }
      return false;
    }
    String n = p.getFileName().toString();
    if (n.endsWith(".npz")) {
      try (NpzFile f = NpzFile.open(p)) {
        tensors(f);
        if (f.find("W_dec").isPresent() || f.find("w_dec").isPresent()) {
          sae(p);
        }
      }
      return true;
    }
    if (n.endsWith(".safetensors")) {
      try (SafetensorsFile f = SafetensorsFile.open(p)) {
        tensors(f);
      }
      return true;
    }
    if (n.endsWith(".npy")) {
      try (NpyFile f = NpyFile.open(p)) {
        tensors(f);
      }
      return true;
    }
    if (n.endsWith(".index.json")) {
      try (ShardedSafetensors f = ShardedSafetensors.open(p)) {
        tensors(f);
      }
      return true;
    }
    if (n.equals("config.json")) {
      out.println(p + ": model config " + ModelConfig.read(p));
      return true;
    }
    if (n.endsWith(".jsonl.gz") || n.endsWith(".json")) {
      labels(p);
      return true;
    }
    return false;
  }

  private boolean walk(Path dir) {
    List<Path> children;
    try (Stream<Path> s = Files.list(dir)) {
      children = s.sorted().toList();
    } catch (IOException e) {
      throw SaeLabException.inFile(dir, "cannot list: " + e.getMessage());
    }
    boolean any = false;
    for (Path c : children) {
      String n = c.getFileName().toString();
      if (n.startsWith(".") || n.endsWith(".py") || n.endsWith(".md") || n.equals("planted.json")) {
        continue;
      }
      if (Files.isDirectory(c)) {
        any |= describe(c) || walk(c);
      } else if (n.endsWith(".safetensors")
          || n.endsWith(".npz")
          || n.endsWith(".npy")
          || n.endsWith(".jsonl.gz")
          || n.endsWith(".index.json")
          || n.equals("config.json")
          || (n.endsWith(".json") && looksLikeLabelExport(c))) {
        any |= describe(c);
      }
    }
    return any;
  }

  /**
   * While walking folders, other JSON files (configs, reference outputs) are not label exports:
   * skip them.
   */
  private static boolean looksLikeLabelExport(Path p) {
    try (java.io.InputStream in = Files.newInputStream(p)) {
      String head = new String(in.readNBytes(4096), java.nio.charset.StandardCharsets.UTF_8);
      return head.contains("\"explanations\"");
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean hasBatches(Path p) {
    if (!Files.isDirectory(p)) {
      return false;
    }
    try (Stream<Path> s = Files.list(p)) {
      return s.anyMatch(c -> c.getFileName().toString().matches("batch-\\d+\\.jsonl(\\.gz)?"));
    } catch (IOException e) {
      return false;
    }
  }

  private void model(Path dir) {
    try (ModelWeights m = ModelWeights.open(dir)) {
      ModelConfig c = m.config();
      out.println(dir + ": model " + c);
      StringBuilder sl = new StringBuilder();
      for (int l = 0; l < c.nLayers(); l++) {
        sl.append(c.isSliding(l) ? 'S' : 'G');
      }
      out.println(
          "  layers (S sliding, G global): "
              + sl
              + "; GQA: query head h reads KV head h/"
              + (c.nHeads() / c.nKvHeads()));
      tensors(m.tensors());
    }
  }

  private void sae(Path p) {
    try (SaeDictionary s = SaeDictionary.open(p)) {
      SaeConfig c = s.config();
      out.println(
          p
              + ": SAE ("
              + c.format()
              + ") architecture="
              + c.architecture()
              + " d_in="
              + c.dIn()
              + " d_sae="
              + c.dSae()
              + " hook="
              + c.hookName()
              + " layer="
              + c.layer()
              + (c.neuronpediaId() != null ? " neuronpedia=" + c.neuronpediaId() : "")
              + (c.format().equals("saelens")
                  ? " apply_b_dec_to_input=" + c.applyBDecToInput()
                  : "")
              + (c.format().endsWith("skip-transcoder")
                  ? "; its affine_skip_connection is read but attention tables do not use it"
                  : ""));
      if (!Files.isRegularFile(p)) {
        list(s.tensors());
      }
    }
  }

  private void labels(Path p) {
    FeatureLabels l = NeuronpediaLabels.read(p);
    out.println(p + ": Neuronpedia " + l.summary());
  }

  private void tensors(TensorSource f) {
    out.println(f.path() + ": " + f.format() + ", " + f.tensors().size() + " tensors");
    list(f.tensors());
  }

  private void list(List<TensorInfo> ts) {
    ts.stream()
        .limit(MAX_TENSORS_LISTED)
        .forEach(t -> out.println("  " + t.name() + "  " + t.dtype() + " " + t.shapeString()));
    if (ts.size() > MAX_TENSORS_LISTED) {
      out.println("  ... " + (ts.size() - MAX_TENSORS_LISTED) + " more");
    }
  }
}
