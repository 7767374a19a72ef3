package dev.saelab.cli;

import dev.saelab.api.CircuitQuery;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitSpec;
import dev.saelab.circuits.HeadSet;
import dev.saelab.linalg.Screen;
import java.util.Set;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The options of the feature-table commands ({@code tables}, {@code qk}, {@code ov}), checked here
 * once.
 */
public final class TableOptions {
  @Mixin Options.HeadsOption heads;

  @Option(
      names = "--top",
      paramLabel = "K",
      defaultValue = "1000",
      converter = Converters.PositiveConverter.class,
      description = "entries per head and circuit (default ${DEFAULT-VALUE})")
  int top;

  @Mixin Options.RankByOption rankBy;

  @Option(names = "--exclude-self", description = "drop self pairs (i = j; QK with one SAE)")
  boolean excludeSelf;

  @Mixin Options.ScaleOption scale;

  @Option(
      names = "--cosine",
      description = "cosine-normalised values: each divided by the norms of its two vectors")
  boolean cosine;

  @Option(
      names = "--position",
      paramLabel = "DELTA",
      converter = Converters.NonNegativeConverter.class,
      description = "QK with the query DELTA tokens after the key, through the model's RoPE")
  Integer position;

  @Mixin Options.PairingOption pairing;
  @Mixin Options.QkNormOption qkNorm;

  @Option(
      names = "--screen",
      paramLabel = "auto|int8|fp32",
      converter = Converters.ScreenConverter.class,
      description =
          "how tiles are computed before candidates are rescored exactly in double: int8 (integer"
              + " GEMM, default with the AVX-512 build) or fp32; the tables are identical either"
              + " way")
  Screen screen;

  @Option(
      names = "--no-prune",
      description = "no norm-bound tile skipping (same tables; for comparison)")
  boolean noPrune;

  @Option(
      names = "--distinct",
      description = "leave out self pairs from each head's top list (Bostock's Distinct)")
  boolean distinct;

  @Option(
      names = "--distinct-positive",
      description = "distinct and value > 0 (Bostock's Distinct Positive)")
  boolean distinctPositive;

  @Option(
      names = "--breakdown",
      description = "with --heads sum: add each head's part (head_0..head_{n-1})")
  boolean breakdown;

  /** Checks the combinations; throws with one line naming the flags. */
  void validate() {
    if (distinct && distinctPositive) {
      throw new IllegalArgumentException("--distinct and --distinct-positive exclude each other");
    }
    if (breakdown && !heads.sum()) {
      throw new IllegalArgumentException(
          "--breakdown goes with --heads sum (per-head parts of the summed circuit)");
    }
  }

  /**
   * A warning when {@code --position} reaches past a sliding-window layer's window (the model never
   * attends that far back there), or null.
   */
  String maskedWarning(dev.saelab.model.ModelConfig c, int layer) {
    if (position != null
        && c.isSliding(layer)
        && c.slidingWindow() > 0
        && position >= c.slidingWindow()) {
      return "warning: layer "
          + layer
          + " attends through a sliding window of "
          + c.slidingWindow()
          + " tokens, so --position "
          + position
          + " is masked there: the table is what the weights give, the model never attends that far"
          + " back";
    }
    return null;
  }

  /** The spec for {@code kinds} on a model with {@code nHeads} query heads. */
  CircuitSpec spec(Set<CircuitKind> kinds, int nHeads) {
    return CircuitSpec.defaults()
        .withKinds(kinds)
        .withTopK(top)
        .withRankBy(rankBy.value())
        .withExcludeSelf(excludeSelf)
        .withQueryScale(scale.query())
        .withPrune(!noPrune)
        .withCosine(cosine)
        .withPosition(position, pairing.value())
        .withHeads(checked(nHeads));
  }

  /** The heads, checked against the model ({@code sum}: all). */
  private HeadSet checked(int nHeads) {
    heads.resolve(nHeads);
    return heads.set();
  }

  /** The same options on a Java query. */
  CircuitQuery applyTo(CircuitQuery q, int nHeads) {
    q.heads(checked(nHeads))
        .top(top)
        .rankBy(rankBy.value())
        .pairing(pairing.value())
        .qkNorm(qkNorm.value());
    if (position != null) {
      q.position(position);
    }
    if (excludeSelf) {
      q.excludeSelf();
    }
    if (scale.query()) {
      q.queryScale();
    }
    if (cosine) {
      q.cosine();
    }
    if (noPrune) {
      q.noPrune();
    }
    if (screen != null) {
      q.screen(screen);
    }
    return q;
  }
}
