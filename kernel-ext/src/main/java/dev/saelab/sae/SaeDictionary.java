package dev.saelab.sae;

import dev.saelab.io.SaeLabException;
import dev.saelab.io.TensorInfo;
import dev.saelab.io.TensorSource;
import java.io.Closeable;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A sparse autoencoder's dictionary: config plus weights read lazily, one tensor at a time, in
 * SAELens's layout ({@code W_enc [d_in, d_sae]}, {@code W_dec [d_sae, d_in]}, {@code b_enc
 * [d_sae]}, {@code b_dec [d_in]}, {@code threshold [d_sae]}).
 *
 * <pre>
 * jshell&gt; var sae = SaeDictionary.open(Path.of("datasets/tiny-gemma-scope/layer_0/width_128/average_l0_12"))
 * jshell&gt; sae.config().dSae()
 * $2 ==&gt; 128
 * jshell&gt; sae.wDec().shapeInfoToString()   // [128, 48]
 * </pre>
 */
public final class SaeDictionary implements Closeable {
  private final Path path;
  private final SaeConfig config;
  private final TensorSource source;
  private final Map<String, String> names;
  private final Map<String, INDArray> cache = new HashMap<>();
  private final Map<String, String> absent;
  private final String name;

  SaeDictionary(Path path, SaeConfig config, TensorSource source, Map<String, String> names) {
    this(path, config, source, names, Map.of(), null);
  }

  /**
   * @param absent why a canonical tensor this dictionary lacks is absent (for its error message)
   * @param name how the user named it, e.g. {@code DIR#writes=3}, or null for the path
   */
  SaeDictionary(
      Path path,
      SaeConfig config,
      TensorSource source,
      Map<String, String> names,
      Map<String, String> absent,
      String name) {
    this.path = path;
    this.config = config;
    this.source = source;
    this.names = names;
    this.absent = absent;
    this.name = name;
  }

  /**
   * Opens an SAE and reads headers and config only: a Gemma Scope folder or {@code params.npz}, a
   * Gemma Scope 2 {@code params.safetensors}, a SAELens folder, a Llama Scope folder ({@code
   * hyperparams.json} + {@code checkpoints/final.safetensors}, weights folded as SAELens does), or
   * one dictionary of a circuit-tracer transcoder set: {@code DIR#layer=i} (per-layer transcoder i)
   * or {@code DIR#writes=L} (the cross-layer transcoder decoders writing into layer L,
   * concatenated; feature {@code i·d_tc + f} is feature f of source layer i). See formats.md.
   */
  public static SaeDictionary open(Path path) {
    return SaeLoader.open(path);
  }

  /** The folder or file this SAE was read from. */
  public Path path() {
    return path;
  }

  /** Format, architecture, widths, hook. */
  public SaeConfig config() {
    return config;
  }

  /** Stored tensors (names as in the file). */
  public List<TensorInfo> tensors() {
    return source.tensors();
  }

  /**
   * Decoder {@code W_dec [d_sae, d_in]}: row i is feature i's direction. Cached after the first
   * read.
   */
  public INDArray wDec() {
    return tensor("W_dec");
  }

  /** Encoder {@code W_enc [d_in, d_sae]}: column j reads feature j. Cached after the first read. */
  public INDArray wEnc() {
    return tensor("W_enc");
  }

  /** Decoder bias {@code b_dec [d_in]}. */
  public INDArray bDec() {
    return tensor("b_dec");
  }

  /** Encoder bias {@code b_enc [d_sae]} (absent in gated SAEs). */
  public Optional<INDArray> bEnc() {
    return names.containsKey("b_enc") ? Optional.of(tensor("b_enc")) : Optional.empty();
  }

  /** JumpReLU threshold {@code [d_sae]}, for jumprelu SAEs. */
  public Optional<INDArray> threshold() {
    return names.containsKey("threshold") ? Optional.of(tensor("threshold")) : Optional.empty();
  }

  /**
   * The canonical tensor ({@code W_dec}, ...) as float32, transposed to SAELens orientation if
   * stored otherwise.
   */
  public synchronized INDArray tensor(String canonical) {
    INDArray a = cache.get(canonical);
    if (a != null) {
      return a;
    }
    String stored = names.get(canonical);
    if (stored == null) {
      throw SaeLabException.inFile(
          path,
          "SAE has no "
              + canonical
              + (absent.containsKey(canonical)
                  ? ": " + absent.get(canonical)
                  : " (tensors: " + names.values() + ")"));
    }
    requireFetched(stored);
    a = source.readArray(stored);
    long[] want = expectedShape(canonical);
    if (want != null && !Arrays.equals(a.shape(), want)) {
      if (a.rank() == 2 && a.shape()[0] == want[1] && a.shape()[1] == want[0]) {
        a = a.transpose().dup('c');
      } else {
        throw SaeLabException.inTensor(
            source.path(),
            stored,
            "shape " + Arrays.toString(a.shape()) + ", expected " + Arrays.toString(want));
      }
    }
    cache.put(canonical, a);
    return a;
  }

  /**
   * Beside a partial copy of a remote file: the address, then the tensors it holds, a line each.
   */
  public static final String PARTIAL_SUFFIX = ".saelab-partial";

  /**
   * A partial copy (only some tensors fetched) refuses to read the others rather than read zeros.
   */
  private void requireFetched(String stored) {
    Path marker = source.path().resolveSibling(source.path().getFileName() + PARTIAL_SUFFIX);
    if (!java.nio.file.Files.isRegularFile(marker)) {
      return;
    }
    java.util.List<String> lines;
    try {
      lines = java.nio.file.Files.readAllLines(marker);
    } catch (java.io.IOException e) {
      throw SaeLabException.inFile(marker, "cannot read (" + e.getMessage() + ")");
    }
    if (!lines.isEmpty() && !lines.subList(1, lines.size()).contains(stored)) {
      throw SaeLabException.inFile(
          source.path(),
          "tensor '"
              + stored
              + "' was not downloaded: this partial copy of "
              + lines.get(0)
              + " holds "
              + lines.subList(1, lines.size())
              + "; open the SAE again for the side that needs it (as an input SAE for decoder"
              + " rows, as an output SAE for encoder columns)");
    }
  }

  long[] expectedShape(String canonical) {
    long i = config.dIn();
    long s = config.dSae();
    switch (canonical) {
      case "W_enc":
        return new long[] {i, s};
      case "W_dec":
        return new long[] {s, i};
      case "b_dec":
        return new long[] {i};
      case "b_enc":
      case "threshold":
      case "b_gate":
      case "b_mag":
      case "r_mag":
        return new long[] {s};
      default:
        return null;
    }
  }

  /** Bytes of tensor data read from disk so far (headers excluded). */
  public long bytesRead() {
    return source.bytesRead();
  }

  /** Drops cached arrays (the file stays open for further reads). */
  public synchronized void evict() {
    cache.clear();
  }

  @Override
  public void close() {
    cache.clear();
    source.close();
  }

  /**
   * One line, e.g. {@code SaeDictionary jumprelu d_in=48 d_sae=128 hook=blocks.0.hook_resid_post
   * layer=0 (...)}.
   */
  @Override
  public String toString() {
    return "SaeDictionary "
        + config.architecture()
        + " d_in="
        + config.dIn()
        + " d_sae="
        + config.dSae()
        + " hook="
        + config.hookName()
        + " layer="
        + (config.layer() < 0 ? "?" : config.layer())
        + " ("
        + config.format()
        + ", "
        + (name == null ? path : name)
        + ")";
  }
}
