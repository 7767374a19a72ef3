package dev.saelab.circuits;

import dev.saelab.circuits.ResidualSplit.Component;
import dev.saelab.forward.Activations;
import dev.saelab.forward.ForwardPass;
import dev.saelab.model.ModelWeights;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;

/**
 * Communication paths into a head on a prompt (Franco &amp; Crovella; kernel-ext/docs/math.md §17):
 * which upstream writers (embeddings, heads, MLPs) put the query-side and key-side factors of the
 * head's strongest singular directions into the residual.
 *
 * <p>With {@code x_t = Σ_c x_t^c} ({@link ResidualSplit}) and the norm's scale ρ_t frozen, the
 * query factor of direction k splits linearly, {@code x̃_t·u_k = Σ_c (x_t^c/ρ_t)·u_k[:d] + u_k[d]}
 * (the last part is the head's own bias, component "bias"); likewise the key factor. A path
 * (component c → this head, direction k, side) contributes {@code c·σ_k·(c's factor)·(the other
 * side's full factor)}: the query-side paths of direction k add up to its term, and so do its
 * key-side paths.
 */
public final class HeadPaths {
  /**
   * One path.
   *
   * @param source the upstream writer
   * @param k the singular direction of the reading head
   * @param side {@link HeadSvd.Side#QUERY} (written at the query position) or {@link
   *     HeadSvd.Side#KEY} (at the key position)
   * @param factor the source's part of that side's factor, {@code (x^c/ρ)·u_k} or {@code
   *     (x^c/ρ)·v_k}
   * @param share {@code factor} / the side's full factor
   * @param contribution {@code coefficient·σ_k·factor·(other side's full factor)}: its part of the
   *     score
   */
  public record Path(
      Component source,
      int k,
      HeadSvd.Side side,
      double factor,
      double share,
      double contribution) {
    @Override
    public String toString() {
      return String.format(
          Locale.ROOT,
          "%s -> direction %d (%s side): factor %.5g (%.1f%%), contribution %.5g",
          source.name(),
          k,
          side.id(),
          factor,
          100 * share,
          contribution);
    }
  }

  private final PromptSvd score;
  private final ResidualSplit split;
  private final int[] directions;
  private final List<Path> paths;

  private HeadPaths(PromptSvd score, ResidualSplit split, int[] directions, List<Path> paths) {
    this.score = score;
    this.split = split;
    this.directions = directions;
    this.paths = paths;
  }

  /**
   * The hooks {@link #of} reads for layer {@code layer} (run {@code ForwardPass.run(model, ids,
   * HeadPaths.hooks(L))}): {@link PromptSvd#hooks} and {@link ResidualSplit#hooks}.
   */
  public static List<String> hooks(int layer) {
    LinkedHashSet<String> h = new LinkedHashSet<>(PromptSvd.hooks(layer));
    h.addAll(ResidualSplit.hooks(layer));
    return List.copyOf(h);
  }

  /**
   * The paths into head {@code head} of layer {@code layer} from query position {@code t} to key
   * position {@code u}, over the fewest directions carrying {@code share} (e.g. 0.9) of the score's
   * {@code Σ|term|} ({@link PromptSvd#directionsFor}).
   */
  public static HeadPaths of(
      ModelWeights model, Activations acts, int layer, int head, int t, int u, double share) {
    PromptSvd s = PromptSvd.of(model, acts, layer, head, t, u);
    return of(model, acts, s, s.directionsFor(share));
  }

  /** The paths over the {@code directions} strongest directions of an existing split. */
  public static HeadPaths of(ModelWeights model, Activations acts, PromptSvd s, int directions) {
    return of(s, ResidualSplit.of(model, acts, s.layer()), directions);
  }

  /**
   * The paths over the {@code directions} strongest directions of {@code s}, from a residual split
   * of the same layer and prompt (reuse one split for many heads and pairs of a layer).
   */
  public static HeadPaths of(PromptSvd s, ResidualSplit split, int directions) {
    if (split.layer() != s.layer()) {
      throw new IllegalArgumentException(
          "residual split of layer " + split.layer() + " for a head of layer " + s.layer());
    }
    int n = Math.max(0, Math.min(directions, s.terms().size()));
    int[] ks = new int[n];
    List<Path> out = new ArrayList<>();
    List<Component> comps = split.components();
    HeadSvd svd = s.svd();
    for (int i = 0; i < n; i++) {
      PromptSvd.Term term = s.terms().get(i);
      int k = term.k();
      ks[i] = k;
      double[] uk = svd.u(k);
      double[] vk = svd.v(k);
      for (HeadSvd.Side side : new HeadSvd.Side[] {HeadSvd.Side.QUERY, HeadSvd.Side.KEY}) {
        boolean q = side == HeadSvd.Side.QUERY;
        int pos = q ? s.queryPos() : s.keyPos();
        double rho = s.rho(q);
        double[] w = q ? uk : vk;
        double full = q ? term.query() : term.key();
        double other = s.coefficient() * term.sigma() * (q ? term.key() : term.query());
        for (int c = 0; c < comps.size(); c++) {
          double f = PromptSvd.dot(split.part(c, pos), w) / rho;
          out.add(new Path(comps.get(c), k, side, f, share(f, full), other * f));
        }
        double rest = PromptSvd.dot(split.remainder(pos), w) / rho;
        out.add(new Path(Component.REMAINDER, k, side, rest, share(rest, full), other * rest));
        double f = w[w.length - 1];
        out.add(new Path(Component.BIAS_TERM, k, side, f, share(f, full), other * f));
      }
    }
    out.sort(
        Comparator.comparingDouble((Path p) -> -Math.abs(p.contribution()))
            .thenComparingInt(Path::k));
    return new HeadPaths(s, split, ks, List.copyOf(out));
  }

  private static double share(double part, double whole) {
    return whole == 0 ? 0 : part / whole;
  }

  /**
   * Runs the forward pass on {@code tokenIds} with exactly {@link #hooks}, then {@link #of}: the
   * one call a notebook needs (e.g. the name mover's query at the last token attending to the
   * indirect object).
   */
  public static HeadPaths trace(
      ModelWeights model, int[] tokenIds, int layer, int head, int t, int u, double share) {
    try (Activations acts = ForwardPass.run(model, tokenIds, hooks(layer))) {
      return of(model, acts, layer, head, t, u, share);
    }
  }

  /** The score split these paths refine. */
  public PromptSvd score() {
    return score;
  }

  /** The residual split they come from. */
  public ResidualSplit residual() {
    return split;
  }

  /** The directions analysed, strongest |term| first. */
  public int[] directions() {
    return directions.clone();
  }

  /**
   * Every path (every component, both sides, every direction analysed), largest |contribution|
   * first.
   */
  public List<Path> paths() {
    return paths;
  }

  /** Only the paths from upstream attention heads (head → head communication). */
  public List<Path> headPaths() {
    return paths.stream().filter(p -> p.source().kind() == ResidualSplit.Kind.HEAD).toList();
  }

  /** The {@code n} strongest paths from upstream heads. */
  public List<Path> topHeadPaths(int n) {
    List<Path> h = headPaths();
    return h.subList(0, Math.min(n, h.size()));
  }

  /** The sum of the contributions of {@code side}'s paths of direction {@code k} (= its term). */
  public double sum(int k, HeadSvd.Side side) {
    return paths.stream()
        .filter(p -> p.k() == k && p.side() == side)
        .mapToDouble(Path::contribution)
        .sum();
  }

  @Override
  public String toString() {
    StringBuilder sb =
        new StringBuilder(
            String.format(
                Locale.ROOT,
                "HeadPaths into %s, query %d, key %d: score %.6g, %d direction(s) analysed,"
                    + " residual split error %.2g",
                score.headName(),
                score.queryPos(),
                score.keyPos(),
                score.modelScore(),
                directions.length,
                split.error()));
    for (Path p : topHeadPaths(5)) {
      sb.append("\n  ").append(p);
    }
    return sb.toString();
  }
}
