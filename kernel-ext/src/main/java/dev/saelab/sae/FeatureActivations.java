package dev.saelab.sae;

import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What an SAE read at each position of a prompt: the active features and their activations (sparse,
 * ascending feature index), what it read ({@link #input}), its reconstruction {@code Σ_i a_i·d_i +
 * b_dec} and the error {@code input − reconstruction}, so that {@code input = Σ_i a_i·d_i + b_dec +
 * error} holds at every position up to float32 rounding.
 *
 * <p>Made by {@link SaeEncoder#encode}.
 */
public final class FeatureActivations implements AutoCloseable {
  private final long dSae;
  private final int[][] features;
  private final float[][] values;
  private final INDArray input;
  private final INDArray reconstruction;
  private final INDArray error;

  FeatureActivations(
      long dSae,
      int[][] features,
      float[][] values,
      INDArray input,
      INDArray reconstruction,
      INDArray error) {
    this.dSae = dSae;
    this.features = features;
    this.values = values;
    this.input = input;
    this.reconstruction = reconstruction;
    this.error = error;
  }

  /** Number of positions (tokens). */
  public int positions() {
    return features.length;
  }

  /** The dictionary's width d_sae. */
  public long dSae() {
    return dSae;
  }

  /** The features active at {@code pos}, ascending (a copy). */
  public int[] features(int pos) {
    return features[check(pos)].clone();
  }

  /** Their activations, in the order of {@link #features(int)} (a copy). */
  public float[] values(int pos) {
    return values[check(pos)].clone();
  }

  /** The activation of {@code feature} at {@code pos}, 0 when inactive. */
  public float activation(int pos, int feature) {
    int i = Arrays.binarySearch(features[check(pos)], feature);
    return i >= 0 ? values[pos][i] : 0f;
  }

  /** How many features are active at {@code pos} (the position's L0). */
  public int l0(int pos) {
    return features[check(pos)].length;
  }

  /** What the SAE read, {@code [T, d_in]} (centred for SAEs trained on a centred stream). */
  public INDArray input() {
    return input;
  }

  /** {@code Σ_i a_i·d_i + b_dec}, {@code [T, d_in]}. */
  public INDArray reconstruction() {
    return reconstruction;
  }

  /** {@code input − reconstruction}, {@code [T, d_in]}. */
  public INDArray error() {
    return error;
  }

  /**
   * The fraction of the input's variance the reconstruction misses at {@code pos}: {@code |error|²
   * / |input − mean(input)|²}.
   */
  public double errorFraction(int pos) {
    check(pos);
    INDArray x = input.getRow(pos);
    INDArray e = error.getRow(pos);
    double mean = x.meanNumber().doubleValue();
    double num = 0;
    double den = 0;
    for (int i = 0; i < x.length(); i++) {
      double ei = e.getDouble(i);
      double xi = x.getDouble(i) - mean;
      num += ei * ei;
      den += xi * xi;
    }
    return den == 0 ? (num == 0 ? 0 : Double.POSITIVE_INFINITY) : num / den;
  }

  private int check(int pos) {
    if (pos < 0 || pos >= features.length) {
      throw new IndexOutOfBoundsException(
          "position " + pos + " out of range 0.." + (features.length - 1));
    }
    return pos;
  }

  /** Frees the dense arrays. */
  @Override
  public void close() {
    input.close();
    reconstruction.close();
    error.close();
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("FeatureActivations of " + positions() + " positions, L0");
    for (int t = 0; t < Math.min(positions(), 16); t++) {
      sb.append(' ').append(l0(t));
    }
    return sb.append(positions() > 16 ? " …" : "").toString();
  }
}
