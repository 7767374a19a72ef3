package dev.saelab.forward;

import dev.saelab.io.NpzFile;
import dev.saelab.io.SaeLabException;
import dev.saelab.io.SafetensorsFile;
import dev.saelab.io.TensorInfo;
import dev.saelab.io.TensorSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Activations recorded elsewhere, keyed by TransformerLens hook names: a safetensors file (as
 * {@code saelab run} writes, or Python's {@code safetensors.numpy.save_file({name: array})} of a
 * TransformerLens cache) or an npz file ({@code np.savez(file, **cache)}). Read through SAE Lab's
 * own readers (no pickle), tensor by tensor on request.
 *
 * <p>Shapes are those of {@link Hook.Point} ({@code [T, d_model]}, {@code [T, heads, d_head]},
 * {@code [heads, T, T]}); a leading batch dimension of 1, as TransformerLens keeps it, is dropped.
 * Token ids come from the safetensors metadata {@code token_ids} ({@code saelab run} writes them);
 * a file without them has none ({@link #tokenIds()} empty). Names that are not hook names SAE Lab
 * knows are ignored.
 */
public final class ActivationFile implements AutoCloseable {
  private final TensorSource source;
  private final Map<String, TensorInfo> hooks = new LinkedHashMap<>();
  private final int[] tokenIds;

  private ActivationFile(TensorSource source, int[] tokenIds) {
    this.source = source;
    this.tokenIds = tokenIds;
    for (TensorInfo t : source.tensors()) {
      try {
        Hook.parse(t.name());
        hooks.put(t.name(), t);
      } catch (IllegalArgumentException notAHook) {
        // other tensors (hook_embed, ln1.hook_scale, ...) are not read
      }
    }
  }

  /** Opens a safetensors or npz file of activations (told apart by their first bytes). */
  public static ActivationFile open(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(file + ": no such activation file");
    }
    if (SafetensorsFile.looksLike(file)) {
      SafetensorsFile s = SafetensorsFile.open(file);
      return new ActivationFile(s, tokenIds(file, s.metadata().get("token_ids")));
    }
    if (file.getFileName().toString().endsWith(".npz")) {
      return new ActivationFile(NpzFile.open(file), new int[0]);
    }
    throw new IllegalArgumentException(
        file + ": not an activation file (expected safetensors, or npz named *.npz)");
  }

  /** Reads every hook of {@code file} SAE Lab knows. */
  public static Activations read(Path file) {
    try (ActivationFile f = open(file)) {
      return f.read(f.hooks());
    }
  }

  private static int[] tokenIds(Path file, String meta) {
    if (meta == null || meta.isBlank()) {
      return new int[0];
    }
    String s = meta.strip().replaceAll("^\\[|\\]$", "").strip();
    if (s.isEmpty()) {
      return new int[0];
    }
    try {
      return Arrays.stream(s.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
    } catch (NumberFormatException e) {
      throw SaeLabException.inFile(
          file, "metadata token_ids '" + meta + "': expected integers like [2,17,5]");
    }
  }

  /** The file. */
  public Path path() {
    return source.path();
  }

  /** The hook names in the file, in file order. */
  public List<String> hooks() {
    return List.copyOf(hooks.keySet());
  }

  /** The token ids the file records (empty when it records none). */
  public int[] tokenIds() {
    return tokenIds.clone();
  }

  /**
   * The activation at {@code hook} ({@code [T, ...]} as {@link Hook.Point} says, a leading batch
   * dimension of 1 dropped); one-line errors naming the file, the hook and the hooks present, or
   * the shape found and the one expected.
   */
  public INDArray get(String hook) {
    Hook h = Hook.parse(hook);
    TensorInfo t = hooks.get(h.name());
    if (t == null) {
      throw new IllegalArgumentException(
          path()
              + ": no activation '"
              + h.name()
              + "' (has "
              + (hooks.isEmpty()
                  ? "no TransformerLens hook names"
                  : String.join(", ", hooks.keySet()))
              + ")");
    }
    long[] shape = t.shape();
    int rank = rank(h.point());
    if (shape.length == rank + 1 && shape[0] == 1) {
      shape = Arrays.copyOfRange(shape, 1, shape.length);
    } else if (shape.length == rank + 1) {
      throw new IllegalArgumentException(
          path()
              + ": activation '"
              + h.name()
              + "' has shape "
              + t.shapeString()
              + ": a batch of "
              + shape[0]
              + " prompts; expected one ("
              + expected(h.point())
              + ", or with a leading batch dimension of 1)");
    }
    if (shape.length != rank
        || (isSquare(h.point()) && shape[1] != shape[2])
        || (tokenIds.length > 0 && shape[tokenAxis(h.point())] != tokenIds.length)) {
      throw new IllegalArgumentException(
          path()
              + ": activation '"
              + h.name()
              + "' has shape "
              + t.shapeString()
              + ", expected "
              + expected(h.point())
              + (tokenIds.length > 0 ? " with T = " + tokenIds.length + " (its token_ids)" : ""));
    }
    INDArray a = source.readArray(t.name());
    if (shape.length == a.rank()) {
      return a;
    }
    INDArray r = a.reshape('c', shape).dup('c');
    a.close();
    return r;
  }

  /** The activations at {@code names} (each as {@link #get}). */
  public Activations read(Collection<String> names) {
    Map<String, INDArray> out = new LinkedHashMap<>();
    List<INDArray> opened = new ArrayList<>();
    try {
      for (String n : names) {
        INDArray a = get(n);
        opened.add(a);
        out.put(Hook.parse(n).name(), a);
      }
    } catch (RuntimeException e) {
      opened.forEach(INDArray::close);
      throw e;
    }
    return new Activations(tokenIds, out);
  }

  private static int rank(Hook.Point p) {
    return switch (p) {
      case RESID_PRE, RESID_MID, RESID_POST, ATTN_OUT, MLP_OUT, FINAL -> 2;
      default -> 3;
    };
  }

  private static boolean isSquare(Hook.Point p) {
    return p == Hook.Point.ATTN_SCORES || p == Hook.Point.PATTERN;
  }

  private static int tokenAxis(Hook.Point p) {
    return isSquare(p) ? 1 : 0;
  }

  private static String expected(Hook.Point p) {
    return switch (rank(p)) {
      case 2 -> "[T, d_model]";
      default -> isSquare(p) ? "[n_heads, T, T]" : "[T, n_heads, d_head]";
    };
  }

  @Override
  public void close() {
    source.close();
  }
}
