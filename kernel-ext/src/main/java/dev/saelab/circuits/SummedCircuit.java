package dev.saelab.circuits;

import dev.saelab.linalg.FactoredProduct;
import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.Progress;
import dev.saelab.model.AttentionWeights;
import dev.saelab.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A layer's circuit summed over its heads, {@code Σ_h QK_h} or {@code Σ_h OV_h}: algorithms spread
 * across heads (kernel-ext/docs/math.md §10).
 */
final class SummedCircuit {
  private SummedCircuit() {}

  /**
   * The circuit summed over all heads of the layer: {@code Σ_h QK_h} (or {@code Σ_h OV_h}),
   * computed as one product of the heads' concatenated blocks, with each top pair's per-head
   * breakdown and the per-head tables' thresholds (so {@link LayerTable#distributed()} lists pairs
   * strong in total and weak in every head). Honours the spec's top-k, ranking, self-pair
   * exclusion, query scale, RoPE distance and cosine variant (cosine of the concatenated vectors);
   * ignores its head list.
   */
  static LayerTable compute(
      FeatureCircuits fc, CircuitKind kind, CircuitSpec spec, Progress progress) {
    AttentionWeights attn = fc.attention();
    HeadProjections proj = fc.projections();
    INDArray q = proj.queries();
    INDArray k = proj.keys();
    INDArray v = proj.values();
    INDArray p = proj.outputs();
    ModelConfig c = attn.config();
    int nh = c.nHeads();
    int dh = c.dHead();
    double scale = fc.scale(kind, spec);
    boolean excl = spec.excludeSelf() && kind == CircuitKind.QK && proj.sameKeySae();
    if (kind == CircuitKind.OV && p == null) {
      throw new IllegalArgumentException(
          "the OV circuit needs an output SAE (the SAE on the layer's output stream)");
    }
    long rows = kind == CircuitKind.QK ? q.rows() : v.rows();
    long cols = kind == CircuitKind.QK ? k.rows() : p.rows();
    MemoryEstimate.requireHeap(
        MemoryEstimate.summedTable(
            nh,
            Math.min(spec.topK(), FactoredProduct.entries(rows, cols, excl)),
            FactoredProduct.workers()),
        "top-k " + spec.topK() + " summed over the heads of layer " + attn.layer());
    // Per-head tables first: their last entries are the thresholds of "weak in every head".
    double[] thresholds = new double[nh];
    List<CircuitTable> perHead =
        fc.compute(spec.withKinds(java.util.EnumSet.of(kind)).withHeads(HeadSet.all()), progress);
    for (CircuitTable t : perHead) {
      List<FeatureEdge> e = t.edges();
      thresholds[t.head()] =
          e.size() < spec.topK()
              ? Double.NEGATIVE_INFINITY
              : spec.rankBy().key((double) e.get(e.size() - 1).value());
    }
    // Each head's sides with the RoPE rotation (as its own table uses them), concatenated; cosine
    // comes after.
    List<INDArray> owned = new ArrayList<>();
    INDArray[] lefts = new INDArray[nh];
    INDArray[] rights = new INDArray[nh];
    List<HeadProjections.Operands> heads = new ArrayList<>();
    try {
      for (int h = 0; h < nh; h++) {
        HeadProjections.Operands o = proj.operands(kind, h, spec.withCosine(false));
        heads.add(o);
        lefts[h] = o.left;
        rights[h] = o.right;
      }
      owned.add(Nd4j.hstack(lefts));
      owned.add(Nd4j.hstack(rights));
    } finally {
      heads.forEach(HeadProjections.Operands::close);
    }
    INDArray left = owned.get(0);
    INDArray right = owned.get(1);
    try {
      INDArray l = left;
      INDArray r = right;
      if (spec.cosine()) {
        l = HeadProjections.unitRows(left);
        r = HeadProjections.unitRows(right);
        owned.add(l);
        owned.add(r);
      }
      String stage = kind.id() + " L" + attn.layer() + " sum";
      List<FeatureEdge> top;
      try (FactoredProduct.Workspace ws =
          new FactoredProduct.Workspace(fc.tileRows(), fc.tileCols(), spec.prune(), fc.screen())) {
        long rowsTotal = (l.rows() + fc.tileRows() - 1) / fc.tileRows();
        long[] done = {0};
        top =
            new FactoredProduct(l, r)
                .topK(
                    spec.topK(),
                    spec.rankBy(),
                    excl,
                    ws,
                    () -> progress.update(stage, ++done[0], rowsTotal));
        fc.stats().add(ws.stats());
      }
      List<LayerTable.Edge> edges = new ArrayList<>(top.size());
      for (FeatureEdge e : top) {
        float[] lr = left.getRow(e.row()).toFloatVector();
        float[] rr = right.getRow(e.col()).toFloatVector();
        double ln = 0;
        double rn = 0;
        for (int i = 0; i < lr.length; i++) {
          ln += (double) lr[i] * lr[i];
          rn += (double) rr[i] * rr[i];
        }
        double norm = spec.cosine() ? Math.sqrt(ln) * Math.sqrt(rn) : 1.0;
        double[] parts = new double[nh];
        double[] own = new double[nh];
        for (int h = 0; h < nh; h++) {
          double dot = 0;
          double a = 0;
          double b = 0;
          for (int i = h * dh; i < (h + 1) * dh; i++) {
            dot += (double) lr[i] * rr[i];
            a += (double) lr[i] * lr[i];
            b += (double) rr[i] * rr[i];
          }
          parts[h] = norm > 0 ? dot / norm * scale : 0;
          double hn = Math.sqrt(a) * Math.sqrt(b);
          own[h] = spec.cosine() ? (hn > 0 ? dot / hn : 0) * scale : dot * scale;
        }
        edges.add(new LayerTable.Edge(e.row(), e.col(), e.value() * scale, parts, own));
      }
      return new LayerTable(kind, attn.layer(), spec.rankBy(), scale, edges, thresholds);
    } finally {
      owned.forEach(INDArray::close);
    }
  }
}
