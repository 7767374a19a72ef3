package dev.saelab.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.saelab.io.SaeLabException;
import java.nio.file.Path;
import java.util.List;

/**
 * One layer type's rotary embedding, as the config describes it: the base θ and the frequency
 * scaling. {@link #invFreq} gives the per-pair frequencies exactly as Hugging Face transformers
 * computes them ({@code default}, {@code linear}, {@code llama3}; kernel-ext/docs/math.md §8).
 *
 * @param theta the base θ (inv_freq_j = θ^(−2j/d_head) before scaling)
 * @param type {@code default}, {@code linear} or {@code llama3}
 * @param factor the scaling factor (linear: every frequency divided by it; llama3: the low ones)
 * @param lowFreqFactor llama3: wavelengths above original/low_freq_factor are divided by factor
 * @param highFreqFactor llama3: wavelengths below original/high_freq_factor are kept
 * @param originalMaxPositions llama3: the original context length
 */
public record RopeParams(
    double theta,
    String type,
    double factor,
    double lowFreqFactor,
    double highFreqFactor,
    int originalMaxPositions) {

  /** Unscaled RoPE with base {@code theta} (0: no rotary embeddings). */
  public static RopeParams plain(double theta) {
    return new RopeParams(theta, "default", 1, 0, 0, 0);
  }

  /**
   * Reads a {@code rope_scaling} or {@code rope_parameters} object (null: unscaled) for base {@code
   * theta} (a {@code rope_theta} inside the object wins).
   */
  public static RopeParams read(Path file, JsonNode scaling, double theta, String where) {
    if (scaling == null || scaling.isNull() || scaling.isMissingNode()) {
      return plain(theta);
    }
    if (!scaling.isObject()) {
      throw SaeLabException.inFile(file, where + ": expected an object with rope_type");
    }
    double th = scaling.path("rope_theta").asDouble(theta);
    String type = scaling.path("rope_type").asText(scaling.path("type").asText("default"));
    switch (type) {
      case "default":
        return plain(th);
      case "linear":
        return new RopeParams(th, type, positive(file, scaling, "factor", where), 0, 0, 0);
      case "llama3":
        {
          double f = positive(file, scaling, "factor", where);
          double lo = positive(file, scaling, "low_freq_factor", where);
          double hi = positive(file, scaling, "high_freq_factor", where);
          if (hi <= lo) {
            throw SaeLabException.inFile(
                file, where + ": high_freq_factor " + hi + " must exceed low_freq_factor " + lo);
          }
          return new RopeParams(
              th,
              type,
              f,
              lo,
              hi,
              (int) positive(file, scaling, "original_max_position_embeddings", where));
        }
      default:
        // read, so that tables (which need no RoPE) still work; positional views refuse it
        return new RopeParams(th, type, 1, 0, 0, 0);
    }
  }

  private static double positive(Path file, JsonNode n, String field, String where) {
    JsonNode v = n.get(field);
    if (v == null || !v.isNumber() || !(v.asDouble() > 0)) {
      throw SaeLabException.inFile(file, where + "." + field + ": expected a positive number");
    }
    return v.asDouble();
  }

  /** Whether the model has rotary embeddings at all. */
  public boolean present() {
    return theta > 0;
  }

  /** The {@code d_head/2} frequencies, after scaling: pair j rotates by {@code Δ·invFreq[j]}. */
  public double[] invFreq(int dHead) {
    if (!List.of("default", "linear", "llama3").contains(type)) {
      throw new IllegalArgumentException(
          "rope_type '"
              + type
              + "' is not supported for positional views (expected default, linear or llama3)");
    }
    int half = dHead / 2;
    double[] f = new double[half];
    for (int j = 0; j < half; j++) {
      // as transformers: 1 / θ^(2j/d) with the exponent computed on the even indices 0, 2, 4, ...
      f[j] = 1.0 / Math.pow(theta, (2.0 * j) / dHead);
    }
    switch (type) {
      case "linear" -> {
        for (int j = 0; j < half; j++) {
          f[j] /= factor;
        }
      }
      case "llama3" -> {
        double lowWavelen = originalMaxPositions / lowFreqFactor;
        double highWavelen = originalMaxPositions / highFreqFactor;
        for (int j = 0; j < half; j++) {
          double wavelen = 2 * Math.PI / f[j];
          if (wavelen > lowWavelen) {
            f[j] /= factor;
          } else if (wavelen >= highWavelen) {
            double smooth =
                (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
            f[j] = (1 - smooth) * f[j] / factor + smooth * f[j];
          }
        }
      }
      default -> {}
    }
    return f;
  }

  @Override
  public String toString() {
    return switch (type) {
      case "linear" -> "θ " + theta + ", linear ×" + factor;
      case "llama3" ->
          "θ "
              + theta
              + ", llama3 ×"
              + factor
              + " (low "
              + lowFreqFactor
              + ", high "
              + highFreqFactor
              + ", original "
              + originalMaxPositions
              + ")";
      default -> "θ " + theta;
    };
  }
}
