package dev.saelab.model;

import dev.saelab.io.SaeLabException;
import dev.saelab.io.SafetensorsFile;
import dev.saelab.io.ShardedSafetensors;
import dev.saelab.io.TensorInfo;
import dev.saelab.io.TensorSource;
import java.io.Closeable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * A Hugging Face model folder ({@code config.json} plus {@code model.safetensors} or a sharded
 * index). Opening reads the config and the safetensors headers; {@link #attention(int)} reads one
 * layer's attention tensors on request.
 *
 * <pre>
 * jshell&gt; var m = ModelWeights.open(Path.of("datasets/tiny-gemma2"))
 * jshell&gt; m.config()
 * gemma2: d_model=48 n_layers=2 n_heads=4 n_kv_heads=2 d_head=16 ...
 * jshell&gt; m.attention(1).W_Q().shape()   // [4, 48, 16]
 * </pre>
 */
public final class ModelWeights implements Closeable {
  private final Path folder;
  private final ModelConfig config;
  private final TensorSource tensors;
  private final Map<Integer, AttentionWeights> layers = new HashMap<>();

  private ModelWeights(Path folder, ModelConfig config, TensorSource tensors) {
    this.folder = folder;
    this.config = config;
    this.tensors = tensors;
  }

  /** Opens a model folder. */
  public static ModelWeights open(Path folder) {
    if (!Files.isDirectory(folder)) {
      throw SaeLabException.inFile(
          folder, "not a model folder (expected config.json and safetensors weights)");
    }
    Path cfg = folder.resolve("config.json");
    if (!Files.isRegularFile(cfg)) {
      throw SaeLabException.inFile(folder, "no config.json: not a Hugging Face model folder");
    }
    ModelConfig config = ModelConfig.read(cfg);
    Path index = folder.resolve("model.safetensors.index.json");
    Path single = folder.resolve("model.safetensors");
    TensorSource src;
    if (Files.isRegularFile(index)) {
      // a multimodal checkpoint's vision tower is never opened: only the text model is attention
      src = ShardedSafetensors.open(index, name -> !isVisionTower(name));
    } else if (Files.isRegularFile(single)) {
      src = SafetensorsFile.open(single);
    } else {
      throw SaeLabException.inFile(folder, "no model.safetensors or model.safetensors.index.json");
    }
    return new ModelWeights(folder, config, src);
  }

  /** The folder. */
  public Path folder() {
    return folder;
  }

  /** Hyper-parameters from config.json. */
  public ModelConfig config() {
    return config;
  }

  /** The underlying tensors (headers). */
  public TensorSource tensors() {
    return tensors;
  }

  /** Layer {@code l}'s attention weights, read on first use and cached. */
  public synchronized AttentionWeights attention(int l) {
    if (l < 0 || l >= config.nLayers()) {
      throw new SaeLabException(
          folder + ": layer " + l + " out of range 0.." + (config.nLayers() - 1));
    }
    return layers.computeIfAbsent(l, this::load);
  }

  /**
   * Layer {@code l}'s attention weights read afresh and not cached: a forward pass reads each layer
   * once, and the caller may close the arrays when done with them.
   */
  public AttentionWeights readAttention(int l) {
    if (l < 0 || l >= config.nLayers()) {
      throw new SaeLabException(
          folder + ": layer " + l + " out of range 0.." + (config.nLayers() - 1));
    }
    return load(l);
  }

  private AttentionWeights load(int l) {
    int d = config.dModel();
    int qw = config.nHeads() * config.dHead();
    int kw = config.nKvHeads() * config.dHead();
    if (config.modelType().equals("gpt2")) {
      String p = prefixOf("h." + l + ".attn.c_attn.weight");
      INDArray cAttn = read(p + "attn.c_attn.weight", d, 3L * d);
      INDArray bAttn = read(p + "attn.c_attn.bias", 3L * d);
      INDArray cProj = read(p + "attn.c_proj.weight", d, d);
      Norm ln = new Norm(NormKind.LAYER, read(p + "ln_1.weight", d), read(p + "ln_1.bias", d));
      return new AttentionWeights(
          l,
          config,
          cols(cAttn, 0, d),
          cols(cAttn, d, 2 * d),
          cols(cAttn, 2 * d, 3 * d),
          cProj,
          bAttn.get(NDArrayIndex.interval(0, d)).dup(),
          bAttn.get(NDArrayIndex.interval(d, 2 * d)).dup(),
          bAttn.get(NDArrayIndex.interval(2 * d, 3 * d)).dup(),
          read(p + "attn.c_proj.bias", d),
          ln,
          null);
    }
    String p = prefixOf("model.layers." + l + ".self_attn.q_proj.weight");
    INDArray q = read(p + "self_attn.q_proj.weight", qw, d).transpose().dup('c');
    INDArray k = read(p + "self_attn.k_proj.weight", kw, d).transpose().dup('c');
    INDArray v = read(p + "self_attn.v_proj.weight", kw, d).transpose().dup('c');
    INDArray o = read(p + "self_attn.o_proj.weight", d, qw).transpose().dup('c');
    INDArray bq = optional(p + "self_attn.q_proj.bias", qw);
    INDArray bk = optional(p + "self_attn.k_proj.bias", kw);
    INDArray bv = optional(p + "self_attn.v_proj.bias", kw);
    INDArray bo = optional(p + "self_attn.o_proj.bias", d);
    INDArray gIn = read(p + "input_layernorm.weight", d);
    Norm qNorm = null;
    Norm kNorm = null;
    if (config.qkNorm() != null) {
      int dh = config.dHead();
      if (tensors.find(p + "self_attn.q_norm.weight").isEmpty()) {
        throw SaeLabException.inFile(
            tensors.path(),
            "missing tensor '"
                + p
                + "self_attn.q_norm.weight' (expected shape ["
                + dh
                + "]): a "
                + config.modelType()
                + " config normalises queries and keys per head");
      }
      qNorm = gain(config.qkNorm(), read(p + "self_attn.q_norm.weight", dh));
      kNorm = gain(config.qkNorm(), read(p + "self_attn.k_norm.weight", dh));
    }
    if (config.norm() == NormKind.RMS_ONE_PLUS) {
      INDArray gPost = read(p + "post_attention_layernorm.weight", d).add(1f);
      return new AttentionWeights(
          l,
          config,
          q,
          k,
          v,
          o,
          bq,
          bk,
          bv,
          bo,
          new Norm(config.norm(), gIn.add(1f), null),
          new Norm(config.norm(), gPost, null),
          qNorm,
          kNorm);
    }
    return new AttentionWeights(
        l,
        config,
        q,
        k,
        v,
        o,
        bq,
        bk,
        bv,
        bo,
        new Norm(config.norm(), gIn, null),
        null,
        qNorm,
        kNorm);
  }

  /** Finds the prefix (e.g. "" or "model." or "transformer.") under which a tensor is stored. */
  /** Gemma's stored weight w becomes the gain 1 + w; Llama/Qwen store the gain itself. */
  private static Norm gain(NormKind kind, INDArray w) {
    return new Norm(kind, kind == NormKind.RMS_ONE_PLUS ? w.add(1f) : w, null);
  }

  /** A multimodal checkpoint's image side, which attention tables never read. */
  static boolean isVisionTower(String name) {
    return name.startsWith("vision_tower.")
        || name.startsWith("multi_modal_projector.")
        || name.startsWith("model.vision_tower.")
        || name.startsWith("model.multi_modal_projector.");
  }

  /**
   * The stored name of a tensor named as in a plain text checkpoint ({@code model.layers.3.…},
   * {@code h.0.…}): as given, or under the prefix of a wrapped or multimodal checkpoint ({@code
   * transformer.}, {@code model.}, {@code language_model.}, {@code model.language_model.}); empty
   * when the checkpoint has no such tensor.
   */
  public java.util.Optional<String> storedName(String name) {
    for (String full :
        new String[] {
          name,
          "transformer." + name,
          "model." + name,
          "language_model." + name,
          name.replaceFirst("^model\\.", "model.language_model.")
        }) {
      if (tensors.find(full).isPresent()) {
        return java.util.Optional.of(full);
      }
    }
    return java.util.Optional.empty();
  }

  private String prefixOf(String name) {
    String full =
        storedName(name)
            .orElseThrow(
                () ->
                    SaeLabException.inFile(
                        tensors.path(),
                        "no tensor '" + name + "' for a " + config.modelType() + " model"));
    return full.substring(0, full.indexOf(name.contains("self_attn.") ? "self_attn." : "attn."));
  }

  private INDArray read(String name, long... shape) {
    TensorInfo t =
        tensors
            .find(name)
            .orElseThrow(
                () ->
                    SaeLabException.inFile(
                        tensors.path(),
                        "missing tensor '"
                            + name
                            + "' (expected shape "
                            + Arrays.toString(shape)
                            + ")"));
    if (!Arrays.equals(t.shape(), shape)) {
      throw SaeLabException.inTensor(
          tensors.path(),
          name,
          "shape "
              + t.shapeString()
              + ", expected "
              + Arrays.toString(shape)
              + " from config.json ("
              + config
              + ")");
    }
    return tensors.readArray(name);
  }

  private INDArray optional(String name, long... shape) {
    return tensors.find(name).isPresent() ? read(name, shape) : null;
  }

  private static INDArray cols(INDArray a, long from, long to) {
    return a.get(NDArrayIndex.all(), NDArrayIndex.interval(from, to)).dup('c');
  }

  /** Checks an SAE width against this model's d_model; the message names both. */
  public void requireWidth(long dIn, String what) {
    if (dIn != config.dModel()) {
      throw new SaeLabException(
          what + " has d_in=" + dIn + " but " + folder + " has d_model=" + config.dModel());
    }
  }

  @Override
  public void close() {
    tensors.close();
  }

  /**
   * One line: {@code ModelWeights gemma2: n_layers=2 d_model=48 n_heads=4 n_kv_heads=2 d_head=16
   * (folder)}.
   */
  @Override
  public String toString() {
    return "ModelWeights "
        + config.modelType()
        + ": n_layers="
        + config.nLayers()
        + " d_model="
        + config.dModel()
        + " n_heads="
        + config.nHeads()
        + " n_kv_heads="
        + config.nKvHeads()
        + " d_head="
        + config.dHead()
        + " ("
        + folder
        + ")";
  }
}
