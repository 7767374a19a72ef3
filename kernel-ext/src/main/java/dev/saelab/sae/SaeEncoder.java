package dev.saelab.sae;

import dev.saelab.io.Json;
import dev.saelab.io.SaeLabException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Encodes residual rows with an SAE, as the SAE's own code does (SAELens and Gemma Scope):
 *
 * <pre>
 * x' = x − mean(x)            only for SAEs trained on a centred stream (GPT-2 res-jb)
 * pre = (x' − b_dec)·W_enc + b_enc      (− b_dec only when the SAE applies b_dec to its input)
 * standard (ReLU):  a = max(pre, 0)
 * jumprelu:         a = pre where pre &gt; threshold (and pre &gt; 0), else 0
 * topk:             the k largest pre, then ReLU; batchtopk: its threshold when it has one, else topk
 * gated:            a = [x'·W_enc + b_gate &gt; 0] · max(x'·(W_enc ⊙ exp(r_mag)) + b_mag, 0)
 * </pre>
 *
 * The decomposition {@code x' = Σ_i a_i·W_dec[i] + b_dec + error} is what attributions split a
 * score over. Positions are encoded in blocks so that at most {@link #BLOCK_ENTRIES}
 * pre-activations exist at once (a 262k-wide SAE on 1024 tokens needs 1 GB otherwise). SAELens's
 * input normalisation ({@code normalize_activations}) needs a scale its files do not hold: SAEs
 * whose {@code cfg.json} asks for one are refused by {@link #of}.
 */
public final class SaeEncoder {
  /** Most pre-activations held at once, in floats (128 MiB). */
  public static final long BLOCK_ENTRIES = 32L << 20;

  private final SaeDictionary sae;

  private SaeEncoder(SaeDictionary sae) {
    this.sae = sae;
  }

  /** An encoder for {@code sae}. */
  public static SaeEncoder of(SaeDictionary sae) {
    String arch = sae.config().architecture();
    if (!List.of("standard", "jumprelu", "topk", "batchtopk", "gated").contains(arch)) {
      throw SaeLabException.inFile(sae.path(), "cannot encode with architecture '" + arch + "'");
    }
    if (arch.equals("jumprelu") && sae.threshold().isEmpty()) {
      throw SaeLabException.inFile(sae.path(), "jumprelu SAE without a threshold tensor");
    }
    if (arch.equals("topk") && sae.config().k() <= 0) {
      throw SaeLabException.inFile(sae.path(), "topk SAE without k in its config");
    }
    Path cfg = sae.path().resolve("cfg.json");
    if (Files.isRegularFile(cfg)) {
      String norm = Json.optText(Json.read(cfg), "normalize_activations", "none");
      if (!norm.equals("none")) {
        throw SaeLabException.inFile(
            cfg,
            "normalize_activations '"
                + norm
                + "': the input scaling it needs is not in the SAE's files, so its activations"
                + " cannot be computed here (expected 'none')");
      }
    }
    return new SaeEncoder(sae);
  }

  /** The dictionary. */
  public SaeDictionary sae() {
    return sae;
  }

  /**
   * Encodes {@code x} ({@code [T, d_in]}, e.g. a recorded {@code hook_resid_pre}); the result owns
   * copies and does not hold {@code x}.
   */
  public FeatureActivations encode(INDArray x) {
    SaeConfig c = sae.config();
    if (x.rank() != 2 || x.size(1) != c.dIn()) {
      throw new IllegalArgumentException(
          "activations "
              + Arrays.toString(x.shape())
              + ": the SAE "
              + sae
              + " reads rows of width "
              + c.dIn()
              + " (expected [positions, "
              + c.dIn()
              + "])");
    }
    int t = (int) x.size(0);
    int dSae = Math.toIntExact(c.dSae());
    INDArray in = x.castTo(DataType.FLOAT).dup('c');
    if (c.centeredStream()) {
      in.subiColumnVector(in.mean(1).reshape(t, 1));
    }
    INDArray wEnc = sae.wEnc();
    INDArray wDec = sae.wDec();
    INDArray bDec = sae.bDec().reshape(1, c.dIn()).castTo(DataType.FLOAT);
    String arch = c.architecture();
    boolean gated = arch.equals("gated");
    INDArray bias = gated ? sae.tensor("b_gate") : sae.bEnc().orElse(null);
    INDArray thr = sae.threshold().orElse(null);
    boolean useThreshold = arch.equals("jumprelu") || (arch.equals("batchtopk") && thr != null);
    boolean topk = arch.equals("topk") || (arch.equals("batchtopk") && thr == null);
    if (topk && c.k() <= 0) {
      throw SaeLabException.inFile(sae.path(), arch + " SAE without a threshold or k");
    }
    INDArray wMag = null;
    INDArray bMag = null;
    if (gated) {
      wMag = wEnc.mulRowVector(Nd4j.math().exp(sae.tensor("r_mag").reshape(1, dSae)));
      bMag = sae.tensor("b_mag").reshape(1, dSae);
    }
    int[][] feats = new int[t][];
    float[][] vals = new float[t][];
    INDArray recon = Nd4j.create(DataType.FLOAT, t, c.dIn());
    int block = (int) Math.max(1, Math.min(t, BLOCK_ENTRIES / Math.max(1, dSae)));
    for (int r0 = 0; r0 < t; r0 += block) {
      int r1 = Math.min(t, r0 + block);
      INDArray rows = in.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(r0, r1));
      INDArray src = c.applyBDecToInput() ? rows.subRowVector(bDec) : rows.dup();
      INDArray pre = src.mmul(wEnc);
      if (bias != null) {
        pre.addiRowVector(bias.reshape(1, dSae));
      }
      INDArray mag = gated ? src.mmul(wMag).addiRowVector(bMag) : null;
      float[] p = pre.data().asFloat();
      float[] m = gated ? mag.data().asFloat() : null;
      float[] th = useThreshold ? thr.data().asFloat() : null;
      float[] dense = new float[(r1 - r0) * dSae];
      for (int r = r0; r < r1; r++) {
        int off = (r - r0) * dSae;
        List<Integer> fi = new ArrayList<>();
        if (topk) {
          for (int f : topK(p, off, dSae, (int) Math.min(c.k(), dSae))) {
            if (p[off + f] > 0) {
              fi.add(f);
            }
          }
          fi.sort(null);
        } else {
          for (int f = 0; f < dSae; f++) {
            float v = p[off + f];
            boolean on = gated ? v > 0 && m[off + f] > 0 : v > 0 && (th == null || v > th[f]);
            if (on) {
              fi.add(f);
            }
          }
        }
        feats[r] = new int[fi.size()];
        vals[r] = new float[fi.size()];
        for (int i = 0; i < fi.size(); i++) {
          int f = fi.get(i);
          float a = gated ? m[off + f] : p[off + f];
          feats[r][i] = f;
          vals[r][i] = a;
          dense[off + f] = a;
        }
      }
      INDArray acts = Nd4j.create(dense, new long[] {r1 - r0, dSae}, 'c');
      INDArray rec = acts.mmul(wDec).addiRowVector(bDec);
      recon.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(r0, r1)).assign(rec);
      close(src, pre, mag, acts, rec);
    }
    if (wMag != null) {
      close(wMag);
    }
    INDArray error = in.sub(recon);
    return new FeatureActivations(c.dSae(), feats, vals, in, recon, error);
  }

  /** Indices of the k largest of {@code p[off, off+n)} (ties: lower index first). */
  static int[] topK(float[] p, int off, int n, int k) {
    Integer[] idx = new Integer[n];
    for (int i = 0; i < n; i++) {
      idx[i] = i;
    }
    Arrays.sort(
        idx,
        (a, b) -> {
          int cmp = Float.compare(p[off + b], p[off + a]);
          return cmp != 0 ? cmp : Integer.compare(a, b);
        });
    int[] out = new int[k];
    for (int i = 0; i < k; i++) {
      out[i] = idx[i];
    }
    return out;
  }

  private static void close(INDArray... arrays) {
    for (INDArray a : arrays) {
      if (a != null) {
        a.close();
      }
    }
  }
}
