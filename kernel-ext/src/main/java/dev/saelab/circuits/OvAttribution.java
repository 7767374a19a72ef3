package dev.saelab.circuits;

import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.RankBy;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import dev.saelab.sae.SaeDictionary;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.PriorityQueue;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * What one head writes at a destination position, split exactly over source positions and the parts
 * of each source row (kernel-ext/docs/math.md §16): with the input norm's {@code ρ_u} and the
 * post-attention norm's {@code ρ′_t} (Gemma 2/3) frozen at their values on the prompt, output
 * feature j's pre-activation receives from head h
 *
 * <pre>
 * term(u, i, j) = A_h[t,u]·a_{u,i}/(ρ_u·ρ′_t) · OV_h[i,j]     (value feature i at source u)
 * </pre>
 *
 * plus the same for b_dec and the error at each source, and the bias {@code b̃_V·W_O^h}; their sum
 * is the head's own {@code (z_t^h·W_O^h/ρ′_t)·fold_out(e_j)}. Output features are read by an output
 * SAE on the layer's output stream (encoder column {@code e_j}, folded as in math.md §3), or are
 * the residual coordinates when no output SAE is given.
 *
 * <p>Made by {@link LayerAttribution#ov}. Immutable.
 */
public final class OvAttribution {
  /** Output features covered when none are named: those the head writes most. */
  public static final int DEFAULT_OUTPUTS = 64;

  /**
   * One (source position, value feature, output feature) term; {@code sourcePos} is -1 in {@link
   * #summedPairs} (summed over source positions).
   *
   * @param sourcePos the source (key) position u, or -1 for a sum over positions
   * @param valueFeature the input SAE's feature i, active at u
   * @param outputFeature the output SAE's feature j (or residual coordinate)
   * @param valueActivation {@code a_{u,i}} (for sums: {@code Σ_u A_h[t,u]·a_{u,i}/ρ_u})
   * @param term its part of output j's pre-activation
   * @param tableValue {@code OV_h[i,j] = v_i·p_j} (unscaled)
   * @param factor {@code A_h[t,u]·a_{u,i}/(ρ_u·ρ′_t)} (for sums, summed over u), so that {@code
   *     term = factor·tableValue}
   */
  public record Pair(
      int sourcePos,
      int valueFeature,
      int outputFeature,
      double valueActivation,
      double term,
      double tableValue,
      double factor) {}

  private static final int N = AttributionPart.values().length;

  private final int layer;
  private final int head;
  private final int destPos;
  private final double rhoPrime;
  private final boolean residual;
  private final int[] outputs;
  private final Map<Integer, Integer> outputIndex = new LinkedHashMap<>();
  private final double[][] parts;
  private final double[] model;
  private final int[] union;
  private final double[][] ov;
  private final int[] sources;
  private final int[][] sourceIdx;
  private final float[][] sourceAct;
  private final double[][] sourceFactor;

  private OvAttribution(
      int layer,
      int head,
      int destPos,
      double rhoPrime,
      boolean residual,
      int[] outputs,
      double[][] parts,
      double[] model,
      int[] union,
      double[][] ov,
      int[] sources,
      int[][] sourceIdx,
      float[][] sourceAct,
      double[][] sourceFactor) {
    this.layer = layer;
    this.head = head;
    this.destPos = destPos;
    this.rhoPrime = rhoPrime;
    this.residual = residual;
    this.outputs = outputs;
    for (int j = 0; j < outputs.length; j++) {
      outputIndex.put(outputs[j], j);
    }
    this.parts = parts;
    this.model = model;
    this.union = union;
    this.ov = ov;
    this.sources = sources;
    this.sourceIdx = sourceIdx;
    this.sourceAct = sourceAct;
    this.sourceFactor = sourceFactor;
  }

  static OvAttribution compute(
      LayerAttribution la, int h, int t, SaeDictionary outSae, int[] chosen) {
    AttentionWeights attn = la.attention();
    ModelConfig c = la.config();
    int d = c.dModel();
    int dh = c.dHead();
    int g = c.kvHead(h);
    LayerAttribution.Destination dest = la.destination(t);
    double[] pat = dest.pattern()[h];
    double[] z = dest.z()[h];
    double rp = dest.rhoPrime();
    double[] gPost =
        attn.postAttnNorm() == null
            ? null
            : attn.postAttnNorm().gain().castTo(DataType.DOUBLE).toDoubleVector();
    float[] wO = LayerAttribution.floats(attn.wO());
    int[] outputs;
    double[][] readers;
    if (outSae == null) {
      outputs = chosen != null ? chosen.clone() : range(d);
      readers = new double[outputs.length][d];
      for (int j = 0; j < outputs.length; j++) {
        readers[j][outputs[j]] = gPost == null ? 1 : gPost[outputs[j]];
      }
    } else {
      boolean centred = outSae.config().centeredStream();
      INDArray wEnc = outSae.wEnc();
      outputs = chosen != null ? chosen.clone() : strongest(wEnc, z, h, dh, d, wO, gPost, centred);
      readers = new double[outputs.length][];
      for (int j = 0; j < outputs.length; j++) {
        try (INDArray col = wEnc.get(NDArrayIndex.all(), NDArrayIndex.point(outputs[j]));
            INDArray dcol = col.castTo(DataType.DOUBLE)) {
          double[] e = dcol.toDoubleVector();
          double mean = 0;
          if (centred) {
            for (double v : e) {
              mean += v;
            }
            mean /= d;
          }
          for (int m = 0; m < d; m++) {
            e[m] = (e[m] - mean) * (gPost == null ? 1 : gPost[m]);
          }
          readers[j] = e;
        }
      }
    }
    int n = outputs.length;
    // p_j = fold_out(e_j)·W_O^hᵀ
    double[][] p = new double[n][dh];
    for (int j = 0; j < n; j++) {
      for (int e = 0; e < dh; e++) {
        int row = (h * dh + e) * d;
        double s = 0;
        for (int m = 0; m < d; m++) {
          s += readers[j][m] * wO[row + m];
        }
        p[j][e] = s;
      }
    }
    double[] model = new double[n];
    for (int j = 0; j < n; j++) {
      model[j] = LayerAttribution.dot(z, p[j]) / rp;
    }
    // sources and the union of their active features
    List<Integer> src = new ArrayList<>();
    java.util.TreeSet<Integer> all = new java.util.TreeSet<>();
    for (int u = 0; u < la.positions(); u++) {
      if (la.attends(t, u)) {
        src.add(u);
        for (int f : la.activations().features(u)) {
          all.add(f);
        }
      }
    }
    int[] union = all.stream().mapToInt(Integer::intValue).toArray();
    double[][] pv = la.featureProjections(LayerAttribution.Side.V, union, g);
    double[][] ov = new double[union.length][n];
    for (int i = 0; i < union.length; i++) {
      for (int j = 0; j < n; j++) {
        ov[i][j] = LayerAttribution.dot(pv[i], p[j]);
      }
    }
    int[] sources = src.stream().mapToInt(Integer::intValue).toArray();
    int[][] sourceIdx = new int[sources.length][];
    float[][] sourceAct = new float[sources.length][];
    double[][] sourceFactor = new double[sources.length][];
    double[][] parts = new double[N][n];
    double decWeight = 0;
    double patSum = 0;
    double[] errMix = new double[dh];
    for (int s = 0; s < sources.length; s++) {
      int u = sources[s];
      double w = pat[u] / la.rho(u);
      int[] f = la.activations().features(u);
      float[] a = la.activations().values(u);
      sourceIdx[s] = new int[f.length];
      sourceAct[s] = a;
      sourceFactor[s] = new double[f.length];
      for (int i = 0; i < f.length; i++) {
        sourceIdx[s][i] = Arrays.binarySearch(union, f[i]);
        sourceFactor[s][i] = w * a[i] / rp;
        double[] row = ov[sourceIdx[s][i]];
        for (int j = 0; j < n; j++) {
          parts[AttributionPart.FEATURES.ordinal()][j] += sourceFactor[s][i] * row[j];
        }
      }
      decWeight += w;
      patSum += pat[u];
      double[] ep = la.errorProjection(LayerAttribution.Side.V, u, g);
      for (int e = 0; e < dh; e++) {
        errMix[e] += w * ep[e];
      }
    }
    double[] decV = la.bDecProjection(LayerAttribution.Side.V, g);
    double[] biasV = la.bias(LayerAttribution.Side.V, g);
    for (int j = 0; j < n; j++) {
      parts[AttributionPart.B_DEC.ordinal()][j] = decWeight * LayerAttribution.dot(decV, p[j]) / rp;
      parts[AttributionPart.ERROR.ordinal()][j] = LayerAttribution.dot(errMix, p[j]) / rp;
      parts[AttributionPart.BIAS.ordinal()][j] = patSum * LayerAttribution.dot(biasV, p[j]) / rp;
    }
    return new OvAttribution(
        la.layer(),
        h,
        t,
        rp,
        outSae == null,
        outputs,
        parts,
        model,
        union,
        ov,
        sources,
        sourceIdx,
        sourceAct,
        sourceFactor);
  }

  private static int[] range(int n) {
    int[] r = new int[n];
    for (int i = 0; i < n; i++) {
      r[i] = i;
    }
    return r;
  }

  /**
   * The {@link #DEFAULT_OUTPUTS} output features the head's write reaches most (|contribution|, in
   * float32, only to choose; ties by index).
   */
  private static int[] strongest(
      INDArray wEnc,
      double[] z,
      int h,
      int dh,
      int d,
      float[] wO,
      double[] gPost,
      boolean centred) {
    long dSae = wEnc.size(1);
    if (dSae <= DEFAULT_OUTPUTS) {
      return range((int) dSae);
    }
    double[] y = new double[d];
    for (int e = 0; e < dh; e++) {
      int row = (h * dh + e) * d;
      for (int m = 0; m < d; m++) {
        y[m] += z[e] * wO[row + m];
      }
    }
    double mean = 0;
    for (int m = 0; m < d; m++) {
      y[m] *= gPost == null ? 1 : gPost[m];
      mean += y[m] / d;
    }
    if (centred) {
      for (int m = 0; m < d; m++) {
        y[m] -= mean;
      }
    }
    float[] contrib;
    try (INDArray yv = Nd4j.create(y).castTo(DataType.FLOAT).reshape(1, d);
        INDArray cv = yv.mmul(wEnc.castTo(DataType.FLOAT))) {
      contrib = cv.data().asFloat();
    }
    Integer[] idx = new Integer[contrib.length];
    for (int j = 0; j < idx.length; j++) {
      idx[j] = j;
    }
    Arrays.sort(idx, Comparator.comparingDouble((Integer j) -> -Math.abs(contrib[j])));
    int[] out = new int[DEFAULT_OUTPUTS];
    for (int j = 0; j < out.length; j++) {
      out[j] = idx[j];
    }
    Arrays.sort(out);
    return out;
  }

  // ---- the result

  /** The layer. */
  public int layer() {
    return layer;
  }

  /** The query head. */
  public int head() {
    return head;
  }

  /** The head as "L1H2". */
  public String headName() {
    return "L" + layer + "H" + head;
  }

  /** The destination position t. */
  public int destPos() {
    return destPos;
  }

  /** The post-attention norm's frozen scale {@code ρ′_t} (1 without one). */
  public double rhoPrime() {
    return rhoPrime;
  }

  /** True when the outputs are residual coordinates (no output SAE). */
  public boolean residual() {
    return residual;
  }

  /** The output features (or residual coordinates) covered, in order (a copy). */
  public int[] outputs() {
    return outputs.clone();
  }

  /** The sum of the terms of one part of the source rows into output {@code j}. */
  public double part(AttributionPart part, int j) {
    return parts[part.ordinal()][index(j)];
  }

  /** The sum of every term into output {@code j}. */
  public double total(int j) {
    int k = index(j);
    double s = 0;
    for (double[] r : parts) {
      s += r[k];
    }
    return s;
  }

  /**
   * The head's own contribution to output {@code j}'s pre-activation, computed directly: {@code
   * (z_t^h·W_O^h/ρ′_t)·fold_out(e_j)}.
   */
  public double modelContribution(int j) {
    return model[index(j)];
  }

  /** The source positions t attends to. */
  public int[] sources() {
    return sources.clone();
  }

  /**
   * The {@code k} (source position, value feature, output feature) terms with the largest |term|,
   * best first (ties: value feature, output feature, source position).
   */
  public List<Pair> pairs(int k) {
    Comparator<Pair> better =
        Comparator.comparingDouble((Pair q) -> -Math.abs(q.term()))
            .thenComparingInt(Pair::valueFeature)
            .thenComparingInt(Pair::outputFeature)
            .thenComparingInt(Pair::sourcePos);
    PriorityQueue<Pair> heap = new PriorityQueue<>(better.reversed());
    for (int s = 0; s < sources.length; s++) {
      for (int i = 0; i < sourceIdx[s].length; i++) {
        int ui = sourceIdx[s][i];
        double f = sourceFactor[s][i];
        for (int j = 0; j < outputs.length; j++) {
          double term = f * ov[ui][j];
          if (heap.size() == k && Math.abs(term) < Math.abs(heap.peek().term())) {
            continue;
          }
          heap.add(
              new Pair(sources[s], union[ui], outputs[j], sourceAct[s][i], term, ov[ui][j], f));
          if (heap.size() > k) {
            heap.poll();
          }
        }
      }
    }
    List<Pair> out = new ArrayList<>(heap);
    out.sort(better);
    return out;
  }

  /**
   * The {@code k} (value feature, output feature) terms with the largest |term| after summing over
   * source positions ({@code sourcePos} -1), best first (ties: value feature, output feature).
   */
  public List<Pair> summedPairs(int k) {
    double[] weight = new double[union.length];
    double[] act = new double[union.length];
    for (int s = 0; s < sources.length; s++) {
      for (int i = 0; i < sourceIdx[s].length; i++) {
        weight[sourceIdx[s][i]] += sourceFactor[s][i];
        act[sourceIdx[s][i]] += sourceFactor[s][i] * rhoPrime;
      }
    }
    List<Pair> all = new ArrayList<>();
    for (int i = 0; i < union.length; i++) {
      for (int j = 0; j < outputs.length; j++) {
        all.add(
            new Pair(-1, union[i], outputs[j], act[i], weight[i] * ov[i][j], ov[i][j], weight[i]));
      }
    }
    all.sort(
        Comparator.comparingDouble((Pair q) -> -Math.abs(q.term()))
            .thenComparingInt(Pair::valueFeature)
            .thenComparingInt(Pair::outputFeature));
    return all.subList(0, Math.min(k, all.size()));
  }

  /**
   * The top {@code k} summed pairs as an OV {@link CircuitTable} (rows value features, columns
   * output features, values the terms), for the API's feature tables.
   */
  public CircuitTable table(int k) {
    List<FeatureEdge> edges = new ArrayList<>();
    for (Pair q : summedPairs(k)) {
      edges.add(new FeatureEdge(q.valueFeature(), q.outputFeature(), (float) q.term()));
    }
    return new CircuitTable(CircuitKind.OV, layer, head, RankBy.ABS, 1, edges);
  }

  private int index(int j) {
    Integer k = outputIndex.get(j);
    if (k == null) {
      throw new IllegalArgumentException(
          (residual ? "residual coordinate " : "output feature ")
              + j
              + " is not among the "
              + outputs.length
              + " outputs of this attribution; name it when asking for the attribution");
    }
    return k;
  }

  /** A few lines: the head, the outputs it writes most, and the top 5 terms. */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "OV attribution %s at destination %d: %d sources, %d %s, ρ′ %.6g%n",
            headName(),
            destPos,
            sources.length,
            outputs.length,
            residual ? "residual coordinates" : "output features",
            rhoPrime));
    Integer[] idx = new Integer[outputs.length];
    for (int j = 0; j < idx.length; j++) {
      idx[j] = j;
    }
    Arrays.sort(idx, Comparator.comparingDouble((Integer j) -> -Math.abs(model[j])));
    for (int r = 0; r < Math.min(3, idx.length); r++) {
      int j = idx[r];
      sb.append(
          String.format(
              Locale.ROOT,
              "  output %d: %.6g = features %.6g + b_dec %.6g + error %.6g + bias %.6g%n",
              outputs[j],
              model[j],
              parts[0][j],
              parts[1][j],
              parts[2][j],
              parts[3][j]));
    }
    for (Pair q : pairs(5)) {
      sb.append(
          String.format(
              Locale.ROOT,
              "  pos %d feature %d -> %d  term %.6g (table %.6g)%n",
              q.sourcePos(),
              q.valueFeature(),
              q.outputFeature(),
              q.term(),
              q.tableValue()));
    }
    return sb.toString();
  }
}
