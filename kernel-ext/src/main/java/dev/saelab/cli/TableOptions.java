package dev.saelab.cli;

import dev.saelab.api.CircuitQuery;
import dev.saelab.circuits.CircuitKind;
import dev.saelab.circuits.CircuitSpec;
import dev.saelab.circuits.HeadSet;
import dev.saelab.circuits.Rope;
import dev.saelab.linalg.RankBy;
import dev.saelab.linalg.Screen;
import java.util.Set;
import picocli.CommandLine.Option;

/**
 * The options of the feature-table commands ({@code tables}, {@code qk}, {@code ov}), checked here
 * once.
 */
public final class TableOptions {
  @Option(
      names = "--heads",
      paramLabel = "all|sum|0,3",
      defaultValue = "all",
      converter = Converters.HeadsConverter.class,
      description =
          "query heads (default all); sum: the layer's circuit summed over heads, with head_spread"
              + " (heads carrying 80%%) and weak_in_every_head (in no head's own top K)")
  Heads heads;

  @Option(
      names = "--top",
      paramLabel = "K",
      defaultValue = "1000",
      converter = Converters.PositiveConverter.class,
      description = "entries per head and circuit (default ${DEFAULT-VALUE})")
  int top;

  @Option(
      names = "--rank-by",
      paramLabel = "abs|value|-value",
      defaultValue = "abs",
      converter = Converters.RankByConverter.class,
      description = "ranking key (default ${DEFAULT-VALUE})")
  RankBy rankBy;

  @Option(names = "--exclude-self", description = "drop self pairs (i = j; QK with one SAE)")
  boolean excludeSelf;

  @Option(
      names = "--scale",
      paramLabel = "raw|query",
      defaultValue = "raw",
      converter = Converters.ScaleConverter.class,
      description =
          "query: QK values × the model's query scale (1/√d_head; Gemma: query_pre_attn_scalar^-½)")
  Converters.Scale scale;

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

  @Option(
      names = "--pairing",
      paramLabel = "rotate-half|interleaved",
      defaultValue = "rotate-half",
      converter = Converters.PairingConverter.class,
      description =
          "RoPE dimension pairing: rotate-half (Gemma, Llama; default) or interleaved (the post's"
              + " plot)")
  Rope.Pairing pairing;

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

  /** The spec for {@code kinds} on a model with {@code nHeads} query heads. */
  CircuitSpec spec(Set<CircuitKind> kinds, int nHeads) {
    return CircuitSpec.defaults()
        .withKinds(kinds)
        .withTopK(top)
        .withRankBy(rankBy)
        .withExcludeSelf(excludeSelf)
        .withQueryScale(scale == Converters.Scale.QUERY)
        .withPrune(!noPrune)
        .withCosine(cosine)
        .withPosition(position, pairing)
        .withHeads(checked(nHeads));
  }

  /** The heads, checked against the model ({@code sum}: all). */
  private HeadSet checked(int nHeads) {
    heads.resolve(nHeads);
    return heads.set();
  }

  /** The same options on a Java query. */
  CircuitQuery applyTo(CircuitQuery q, int nHeads) {
    q.heads(checked(nHeads)).top(top).rankBy(rankBy).pairing(pairing);
    if (position != null) {
      q.position(position);
    }
    if (excludeSelf) {
      q.excludeSelf();
    }
    if (scale == Converters.Scale.QUERY) {
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
