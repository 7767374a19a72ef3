package dev.saelab.circuits;

import dev.saelab.forward.Activations;
import dev.saelab.forward.Hook;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.model.ModelWeights;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A layer's input residual split into what wrote it (kernel-ext/docs/math.md §17): {@code x_t =
 * embed + pos_embed + Σ_{l<L} (Σ_h head_l^h + b_O^l + mlp_l)}, every term a {@code [T, d_model]}
 * array in double precision, from a recorded forward pass.
 *
 * <ul>
 *   <li><b>embed</b>: the token embedding ({@code wte} row; Gemma: × √d_model as the model does it,
 *       i.e. {@code hook_resid_pre} of layer 0), <b>pos_embed</b>: GPT-2's learned position row;
 *   <li><b>LlHh</b>: head h of layer l, {@code z^h·W_O^h} from the recorded {@code hook_z}; with a
 *       post-attention norm (Gemma 2/3) the norm's per-token scale ρ′_t (the RMS of the whole
 *       pre-norm output {@code Σ_h z^h·W_O^h + b_O}) is frozen at its value, so {@code head^h =
 *       (z^h·W_O^h)/ρ′_t ⊙ g_post} and the heads add up to {@code hook_attn_out};
 *   <li><b>Ll b_O</b>: the output bias (GPT-2), normalised likewise;
 *   <li><b>Ll MLP</b>: {@code hook_mlp_out} as recorded (after Gemma's post-feed-forward norm).
 * </ul>
 *
 * {@link #error()} checks that the parts add up to the recorded {@code hook_resid_pre} of layer L.
 */
public final class ResidualSplit {
  /** What kind of writer a component is. */
  public enum Kind {
    /** The token embedding. */
    EMBED,
    /** GPT-2's learned position embedding. */
    POS_EMBED,
    /** One upstream attention head's output. */
    HEAD,
    /** An upstream layer's attention output bias {@code b_O}. */
    ATTN_BIAS,
    /** An upstream MLP's output. */
    MLP,
    /**
     * The constant 1 of the bias-augmented form {@code [x; 1]}: the head's own {@code b_Q}/{@code
     * b_K} with the input LayerNorm's bias folded in (not part of the residual).
     */
    BIAS,
    /**
     * What the writers leave of the recorded residual, {@code x_t − Σ parts}: the float32 rounding
     * of the recorded activations (about 1e-7 of |x|), kept so that paths add up exactly.
     */
    REMAINDER
  }

  /**
   * One writer into the residual.
   *
   * @param name "embed", "pos_embed", "L0H3", "L0 b_O", "L0 MLP" or "bias"
   * @param kind its kind
   * @param layer the layer that wrote it (-1 for the embeddings and the bias)
   * @param head the head (-1 unless {@link Kind#HEAD})
   */
  public record Component(String name, Kind kind, int layer, int head) {
    /** The constant term of the bias-augmented form. */
    public static final Component BIAS_TERM = new Component("bias", Kind.BIAS, -1, -1);

    /** The recorded residual minus the sum of the writers. */
    public static final Component REMAINDER = new Component("remainder", Kind.REMAINDER, -1, -1);

    @Override
    public String toString() {
      return name;
    }
  }

  private final int layer;
  private final List<Component> components;
  private final double[][][] parts; // [component][t][d]
  private final double[][] residual; // recorded hook_resid_pre, [t][d]

  private ResidualSplit(
      int layer, List<Component> components, double[][][] parts, double[][] residual) {
    this.layer = layer;
    this.components = List.copyOf(components);
    this.parts = parts;
    this.residual = residual;
  }

  /**
   * The hooks {@link #of} reads for layer {@code layer}: {@code hook_resid_pre} of layers 0 and L,
   * {@code attn.hook_z} and {@code hook_mlp_out} of every layer before L.
   */
  public static List<String> hooks(int layer) {
    List<String> h = new ArrayList<>();
    h.add(Hook.of(0, Hook.Point.RESID_PRE).name());
    for (int l = 0; l < layer; l++) {
      h.add(Hook.of(l, Hook.Point.Z).name());
      h.add(Hook.of(l, Hook.Point.MLP_OUT).name());
    }
    if (layer > 0) {
      h.add(Hook.of(layer, Hook.Point.RESID_PRE).name());
    }
    return h;
  }

  /** Splits layer {@code layer}'s input residual, for every position of {@code acts}. */
  public static ResidualSplit of(ModelWeights model, Activations acts, int layer) {
    ModelConfig c = model.config();
    if (layer < 0 || layer >= c.nLayers()) {
      throw new IllegalArgumentException(
          "layer " + layer + " out of range 0.." + (c.nLayers() - 1));
    }
    int[] ids = acts.tokenIds();
    int t = ids.length;
    int d = c.dModel();
    List<Component> comps = new ArrayList<>();
    List<double[][]> parts = new ArrayList<>();
    double[][] embed0 = rows(acts.get(Hook.of(0, Hook.Point.RESID_PRE)), t, d, "hook_resid_pre");
    if (c.modelType().equals("gpt2")) {
      int[] pos = new int[t];
      for (int i = 0; i < t; i++) {
        pos[i] = i;
      }
      comps.add(new Component("embed", Kind.EMBED, -1, -1));
      parts.add(readRows(model, "wte.weight", ids, d));
      comps.add(new Component("pos_embed", Kind.POS_EMBED, -1, -1));
      parts.add(readRows(model, "wpe.weight", pos, d));
    } else {
      comps.add(new Component("embed", Kind.EMBED, -1, -1));
      parts.add(embed0);
    }
    int nh = c.nHeads();
    int dh = c.dHead();
    for (int l = 0; l < layer; l++) {
      AttentionWeights a = model.attention(l);
      double[][] z = rows(acts.get(Hook.of(l, Hook.Point.Z)), t, nh * dh, "attn.hook_z");
      double[][] wo = a.wO().toDoubleMatrix();
      double[][][] heads = new double[nh][t][d];
      double[][] pre = new double[t][d];
      for (int h = 0; h < nh; h++) {
        for (int i = 0; i < t; i++) {
          for (int e = 0; e < dh; e++) {
            double ze = z[i][h * dh + e];
            if (ze != 0) {
              double[] w = wo[h * dh + e];
              for (int j = 0; j < d; j++) {
                heads[h][i][j] += ze * w[j];
              }
            }
          }
          for (int j = 0; j < d; j++) {
            pre[i][j] += heads[h][i][j];
          }
        }
      }
      double[][] bias = null;
      if (a.bO() != null) {
        double[] b = a.bO().toDoubleVector();
        bias = new double[t][];
        for (int i = 0; i < t; i++) {
          bias[i] = b.clone();
          for (int j = 0; j < d; j++) {
            pre[i][j] += b[j];
          }
        }
      }
      if (a.postAttnNorm() != null) {
        // RMSNorm with its per-token scale frozen: linear in the heads (and b_O)
        double[] g = a.postAttnNorm().gain().toDoubleVector();
        for (int i = 0; i < t; i++) {
          double ss = 0;
          for (double v : pre[i]) {
            ss += v * v;
          }
          double inv = 1 / Math.sqrt(ss / d + c.normEps());
          for (int j = 0; j < d; j++) {
            for (int h = 0; h < nh; h++) {
              heads[h][i][j] *= inv * g[j];
            }
            if (bias != null) {
              bias[i][j] *= inv * g[j];
            }
          }
        }
      }
      for (int h = 0; h < nh; h++) {
        comps.add(new Component(a.headName(h), Kind.HEAD, l, h));
        parts.add(heads[h]);
      }
      if (bias != null) {
        comps.add(new Component("L" + l + " b_O", Kind.ATTN_BIAS, l, -1));
        parts.add(bias);
      }
      comps.add(new Component("L" + l + " MLP", Kind.MLP, l, -1));
      parts.add(rows(acts.get(Hook.of(l, Hook.Point.MLP_OUT)), t, d, "hook_mlp_out"));
    }
    double[][] resid =
        layer == 0
            ? embed0
            : rows(acts.get(Hook.of(layer, Hook.Point.RESID_PRE)), t, d, "hook_resid_pre");
    return new ResidualSplit(layer, comps, parts.toArray(new double[0][][]), resid);
  }

  private static double[][] rows(INDArray a, int t, int w, String what) {
    if (a.length() != (long) t * w) {
      throw new IllegalArgumentException(
          what
              + ": "
              + java.util.Arrays.toString(a.shape())
              + ", expected "
              + t
              + " tokens of width "
              + w);
    }
    try (INDArray r = a.reshape('c', t, w)) {
      return r.toDoubleMatrix();
    }
  }

  /** Rows {@code ids} of a {@code [n, width]} weight, streamed (the matrix is never held whole). */
  private static double[][] readRows(ModelWeights m, String name, int[] ids, int width) {
    String full =
        m.storedName(name)
            .orElseThrow(
                () -> new IllegalArgumentException(m.folder() + ": no tensor '" + name + "'"));
    double[][] out = new double[ids.length][width];
    m.tensors()
        .read(
            full,
            (offset, values, count) -> {
              long end = offset + count;
              for (int i = 0; i < ids.length; i++) {
                long r0 = (long) ids[i] * width;
                long a = Math.max(r0, offset);
                long b = Math.min(r0 + width, end);
                for (long e = a; e < b; e++) {
                  out[i][(int) (e - r0)] = values[(int) (e - offset)];
                }
              }
            });
    return out;
  }

  /** The layer whose input this splits. */
  public int layer() {
    return layer;
  }

  /** The writers, in the order embed, pos_embed, then per upstream layer its heads, b_O, MLP. */
  public List<Component> components() {
    return components;
  }

  /** Component {@code c}'s part of the residual at position {@code t} (a copy). */
  public double[] part(int c, int t) {
    return parts[c][t].clone();
  }

  /** The recorded residual {@code hook_resid_pre} of the layer at position {@code t} (a copy). */
  public double[] residual(int t) {
    return residual[t].clone();
  }

  /** {@code x_t − Σ parts}: the recorded residual's float32 rounding against its parts. */
  public double[] remainder(int t) {
    double[] s = sum(t);
    for (int j = 0; j < s.length; j++) {
      s[j] = residual[t][j] - s[j];
    }
    return s;
  }

  /** The sum of the parts at position {@code t}. */
  public double[] sum(int t) {
    double[] s = new double[residual[t].length];
    for (double[][] p : parts) {
      for (int j = 0; j < s.length; j++) {
        s[j] += p[t][j];
      }
    }
    return s;
  }

  /**
   * How well the parts add up: {@code max_t max_j |Σ parts − x_t| / max_t max_j |x_t|} (float32
   * rounding of the recorded activations, about 1e-7).
   */
  public double error() {
    double err = 0;
    double scale = 0;
    for (int t = 0; t < residual.length; t++) {
      double[] s = sum(t);
      for (int j = 0; j < s.length; j++) {
        err = Math.max(err, Math.abs(s[j] - residual[t][j]));
        scale = Math.max(scale, Math.abs(residual[t][j]));
      }
    }
    return scale == 0 ? err : err / scale;
  }

  @Override
  public String toString() {
    return String.format(
        java.util.Locale.ROOT,
        "ResidualSplit of layer %d's input: %d components, %d tokens, sum error %.3g",
        layer,
        components.size(),
        residual.length,
        error());
  }
}
