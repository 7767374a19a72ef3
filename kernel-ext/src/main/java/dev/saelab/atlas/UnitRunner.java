package dev.saelab.atlas;

import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitSpec;
import dev.saelab.circuits.FeatureCircuits;
import dev.saelab.circuits.HeadProjections;
import dev.saelab.circuits.HeadSvd;
import dev.saelab.circuits.LayerTable;
import dev.saelab.circuits.MemoryEstimate;
import dev.saelab.circuits.QkNorm;
import dev.saelab.linalg.FactoredProduct;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.Progress;
import dev.saelab.linalg.RankBy;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Computes one work unit with the single-machine engine: a row block's exact top-k ({@link
 * FactoredProduct} on the block of the left factor, row indices offset), every feature's top
 * partners in the block, or a layer's summed circuit or spectra. The layer's projections come from
 * {@link AtlasInputs#acquire} (prepared once per JVM for the units that follow).
 *
 * <p>Partners are screened on float32 tiles with the engine's own slack ({@link
 * FactoredProduct#screenSlack}) and rescored as the engine rescores ({@link
 * FactoredProduct#rescore}), so a pair's value is the same float as in the tables and the partner
 * lists are exact.
 */
public final class UnitRunner {
  private UnitRunner() {}

  /** Rows × columns of the float32 tiles the partner screen computes at a time. */
  static int partnerTileRows = 1024;

  /** Columns of the partner screen's tiles. */
  static int partnerTileCols = 4096;

  /** The per-head table spec that {@link FeatureCircuits#compute} takes for the same tables. */
  public static CircuitSpec circuitSpec(AtlasSpec spec) {
    return CircuitSpec.defaults()
        .withKinds(spec.circuits())
        .withTopK(spec.topK())
        .withRankBy(spec.rankBy())
        .withExcludeSelf(spec.excludeSelf())
        .withQueryScale(spec.queryScale());
  }

  /** Runs {@code unit} of {@code spec}. */
  public static UnitResult run(AtlasSpec spec, WorkUnit unit) {
    try (AtlasInputs.Lease lease = AtlasInputs.acquire(spec, unit.layer())) {
      FeatureCircuits fc = lease.circuits();
      if (unit.circuit() == CircuitKind.OV && fc.outputs() == null) {
        throw new dev.saelab.io.SaeLabException(
            "layer "
                + unit.layer()
                + ": "
                + unit.id()
                + " needs the output SAE at "
                + spec.saeOut(unit.layer()));
      }
      return switch (unit.part()) {
        case TABLE -> table(spec, unit, fc);
        case SUM -> sum(spec, unit, fc);
        case SPECTRA -> spectra(spec, unit, fc, lease);
      };
    }
  }

  private static double scale(AtlasSpec spec, CircuitKind kind, ModelConfig c) {
    return kind == CircuitKind.QK && spec.queryScale() ? c.queryScale() : 1.0;
  }

  private static String variant(CircuitKind kind, HeadProjections proj) {
    QkNorm n = proj.qkNorm();
    return kind == CircuitKind.QK && n != null ? n.id() : "";
  }

  private static UnitResult table(AtlasSpec spec, WorkUnit unit, FeatureCircuits fc) {
    HeadProjections proj = fc.projections();
    ModelConfig c = fc.config();
    CircuitKind kind = unit.circuit();
    FactoredProduct whole;
    synchronized (proj) { // its head views are cached in a map
      whole = proj.product(kind, unit.head());
    }
    long nRows = whole.rows();
    long nCols = whole.cols();
    if (unit.rowEnd() > nRows) {
      throw new IllegalArgumentException(
          unit.id() + ": rows up to " + unit.rowEnd() + " but the product has " + nRows);
    }
    int r0 = unit.rowStart();
    int r1 = unit.rowEnd();
    int b = r1 - r0;
    boolean excl = spec.excludeSelf() && kind == CircuitKind.QK && proj.sameKeySae();
    // the block's diagonal entries (global row = column), dropped after the engine's top-k
    long diag = excl ? Math.max(0, Math.min(r1, nCols) - r0) : 0;
    long kAsk = Math.min(spec.topK() + diag, FactoredProduct.entries(b, nCols, false));
    MemoryEstimate.require(
        MemoryEstimate.tables(c, b, nCols, fc.tileRows(), fc.tileCols())
            + (spec.perFeature() > 0
                ? 4L
                    * (2L * b * c.dHead()
                        + 2L * nCols * c.dHead()
                        + (long) Math.min(b, partnerTileRows) * Math.min(nCols, partnerTileCols))
                : 0),
        "work unit " + unit.id());
    MemoryEstimate.requireHeap(
        FactoredProduct.workingHeapBytes(kAsk, FactoredProduct.workers())
            + (spec.perFeature() > 0
                ? PartnerHeaps.bytes(b, spec.perFeature())
                    + PartnerHeaps.bytes(nCols, spec.perFeature())
                : 0),
        "work unit " + unit.id());
    return block(
        unit,
        whole.left(),
        whole.right(),
        spec.topK(),
        spec.perFeature(),
        spec.rankBy(),
        excl,
        scale(spec, kind, c),
        variant(kind, proj),
        new FactoredProduct.Workspace(fc.tileRows(), fc.tileCols(), true, fc.screen()));
  }

  /**
   * The unit's row block {@code [rowStart, rowEnd)} of {@code left · rightᵀ}: its top-k (the
   * engine's top {@code k + d} of the block, d its diagonal entries when {@code excl}, those
   * dropped, rows offset) and, with {@code k2 > 0}, its partners. Closes {@code ws}.
   */
  static UnitResult block(
      WorkUnit unit,
      INDArray left,
      INDArray right,
      int topK,
      int k2,
      RankBy rankBy,
      boolean excl,
      double scale,
      String variant,
      FactoredProduct.Workspace ws) {
    int r0 = unit.rowStart();
    int r1 = unit.rowEnd();
    int b = r1 - r0;
    long nCols = right.rows();
    // the block's diagonal entries (global row = column), dropped after the engine's top-k
    long diag = excl ? Math.max(0, Math.min(r1, nCols) - r0) : 0;
    long kAsk = Math.min(topK + diag, FactoredProduct.entries(b, nCols, false));
    int[] blockRows = new int[b];
    for (int i = 0; i < b; i++) {
      blockRows[i] = r0 + i;
    }
    // a copy of the block's rows (ND4J's row interval of a column view comes back empty past the
    // first rows, so the rows are pulled)
    try (ws;
        INDArray block = Nd4j.pullRows(left, 1, blockRows, 'c')) {
      List<FeatureEdge> top =
          new FactoredProduct(block, right).topK((int) kAsk, rankBy, false, ws, null);
      UnitResult.Partners[] partners =
          k2 > 0 ? partners(block, right, r0, excl, rankBy, k2) : new UnitResult.Partners[2];
      int n = 0;
      int[] rows = new int[Math.min(topK, top.size())];
      int[] cols = new int[rows.length];
      float[] vals = new float[rows.length];
      for (FeatureEdge e : top) {
        if (n == rows.length) {
          break;
        }
        int row = e.row() + r0;
        if (excl && row == e.col()) {
          continue;
        }
        rows[n] = row;
        cols[n] = e.col();
        vals[n] = e.value();
        n++;
      }
      if (n < rows.length) {
        rows = java.util.Arrays.copyOf(rows, n);
        cols = java.util.Arrays.copyOf(cols, n);
        vals = java.util.Arrays.copyOf(vals, n);
      }
      return new UnitResult(
          unit,
          rankBy,
          topK,
          k2,
          scale,
          variant,
          b,
          rows,
          cols,
          vals,
          partners[0],
          partners[1],
          null,
          null);
    }
  }

  /**
   * Every row feature's top {@code k} partners in its row of {@code block · rightᵀ}, and every
   * column feature's top {@code k} among the block's rows: float32 tiles screened with the engine's
   * slack, candidates rescored exactly.
   */
  static UnitResult.Partners[] partners(
      INDArray block, INDArray right, int r0, boolean excl, RankBy rankBy, int k) {
    int b = block.rows();
    int n = right.rows();
    int r = block.columns();
    PartnerHeaps rowHeaps = new PartnerHeaps(b, k);
    PartnerHeaps colHeaps = new PartnerHeaps(n, k);
    try (INDArray rc = right.dup('c')) {
      float[] lf = block.data().asFloat();
      float[] rf = rc.data().asFloat();
      ByteBuffer lb = buffer(lf);
      ByteBuffer rb = buffer(rf);
      double[] ln = norms(lf, b, r);
      double[] rn = norms(rf, n, r);
      double slack = FactoredProduct.screenSlack(r);
      for (int i0 = 0; i0 < b; i0 += partnerTileRows) {
        int i1 = Math.min(b, i0 + partnerTileRows);
        for (int j0 = 0; j0 < n; j0 += partnerTileCols) {
          int j1 = Math.min(n, j0 + partnerTileCols);
          int w = j1 - j0;
          float[] tile;
          // views of the copies (never closed themselves: closing a view frees its owner's data)
          INDArray lt = block.get(NDArrayIndex.interval(i0, i1), NDArrayIndex.all());
          INDArray rt = rc.get(NDArrayIndex.interval(j0, j1), NDArrayIndex.all());
          try (INDArray t =
              Nd4j.createUninitialized(DataType.FLOAT, new long[] {i1 - i0, w}, 'c')) {
            Nd4j.gemm(lt, rt, t, false, true, 1.0, 0.0);
            tile = t.data().asFloat();
          }
          if (Thread.currentThread().isInterrupted()) {
            throw new java.util.concurrent.CancellationException("interrupted");
          }
          for (int i = i0; i < i1; i++) {
            int base = (i - i0) * w;
            int row = i + r0;
            for (int j = j0; j < j1; j++) {
              if (excl && row == j) {
                continue;
              }
              float a = tile[base + j - j0];
              double need = Math.min(rowHeaps.threshold(i), colHeaps.threshold(j));
              if ((double) rankBy.key(a) + slack * ln[i] * rn[j] < need) {
                continue;
              }
              float v = FactoredProduct.rescore(lb, i * r, rb, j * r, r);
              float key = rankBy.key(v);
              rowHeaps.offer(i, key, v, j);
              colHeaps.offer(j, key, v, row);
            }
          }
        }
      }
    }
    return new UnitResult.Partners[] {rowHeaps.sorted(r0), colHeaps.sorted(0)};
  }

  private static ByteBuffer buffer(float[] f) {
    ByteBuffer bb = ByteBuffer.allocate(f.length * 4).order(ByteOrder.nativeOrder());
    bb.asFloatBuffer().put(f);
    return bb;
  }

  private static double[] norms(float[] m, int n, int r) {
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      double s = 0;
      for (int l = 0; l < r; l++) {
        double x = m[i * r + l];
        s += x * x;
      }
      out[i] = Math.sqrt(s);
    }
    return out;
  }

  private static UnitResult sum(AtlasSpec spec, WorkUnit unit, FeatureCircuits fc) {
    LayerTable t;
    synchronized (fc) { // one summed circuit of a layer at a time: it keeps running statistics
      t =
          fc.computeSum(
              unit.circuit(),
              circuitSpec(spec).withKinds(EnumSet.of(unit.circuit())),
              Progress.NONE);
    }
    int n = t.edges().size();
    int[] rows = new int[n];
    int[] cols = new int[n];
    float[] vals = new float[n];
    int[] spread = new int[n];
    boolean[] weak = new boolean[n];
    float[][] parts = new float[n][];
    for (int i = 0; i < n; i++) {
      LayerTable.Edge e = t.edges().get(i);
      rows[i] = e.row();
      cols[i] = e.col();
      vals[i] = (float) e.value();
      spread[i] = e.headSpread(LayerTable.SPREAD_SHARE);
      weak[i] = t.weakInEveryHead(e);
      parts[i] = new float[e.perHead().length];
      for (int h = 0; h < parts[i].length; h++) {
        parts[i][h] = (float) e.perHead()[h];
      }
    }
    return new UnitResult(
        unit,
        spec.rankBy(),
        spec.topK(),
        0,
        1.0,
        variant(unit.circuit(), fc.projections()),
        0,
        new int[0],
        new int[0],
        new float[0],
        null,
        null,
        new UnitResult.Sum(rows, cols, vals, spread, weak, parts),
        null);
  }

  private static UnitResult spectra(
      AtlasSpec spec, WorkUnit unit, FeatureCircuits fc, AtlasInputs.Lease lease) {
    AttentionWeights attn = fc.attention();
    int nh = attn.config().nHeads();
    double[][] sigma = new double[nh][];
    boolean centred = lease.saeOut() != null && lease.saeOut().config().centeredStream();
    List<double[]> out = new ArrayList<>();
    for (int h = 0; h < nh; h++) {
      HeadSvd svd =
          unit.circuit() == CircuitKind.QK
              ? HeadSvd.qk(attn, h, false)
              : HeadSvd.ov(attn, h, centred);
      sigma[h] = svd.sigma().clone();
      out.add(sigma[h]);
    }
    return new UnitResult(
        unit,
        spec.rankBy(),
        spec.topK(),
        0,
        1.0,
        "",
        0,
        new int[0],
        new int[0],
        new float[0],
        null,
        null,
        null,
        sigma);
  }
}
