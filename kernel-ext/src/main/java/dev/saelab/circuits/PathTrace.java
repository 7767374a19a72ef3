package dev.saelab.circuits;

import dev.saelab.forward.Activations;
import dev.saelab.forward.ForwardPass;
import dev.saelab.forward.Hook;
import dev.saelab.model.ModelWeights;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A backward trace of head-to-head communication on a prompt, as Franco &amp; Crovella trace the
 * IOI circuit (kernel-ext/docs/math.md §17): start at one head's score (query t, key u), take its
 * strongest upstream-head paths ({@link HeadPaths}), and for each source head continue at the
 * position it wrote to (t for a query-side path, u for a key-side one), attending to the key it
 * attends to most there ({@code hook_pattern}'s argmax), down to a depth.
 */
public final class PathTrace {
  private PathTrace() {}

  /**
   * One traced path: upstream head {@code source} (at its query and key positions) feeds {@code
   * target}'s direction k on {@code side}.
   *
   * @param depth 1 for paths into the starting head, 2 for paths into those sources, ...
   * @param source "L0H3"
   * @param sourceQuery the source's query position (where it wrote)
   * @param sourceKey the key it attends to most from there
   * @param target the reading head
   * @param targetQuery its query position
   * @param targetKey its key position
   * @param k the reading head's singular direction
   * @param side which side of the reading head's score the source wrote into
   * @param contribution the path's part of the reading head's score ({@link HeadPaths.Path})
   * @param share the source's fraction of that side's factor
   */
  public record Edge(
      int depth,
      String source,
      int sourceQuery,
      int sourceKey,
      String target,
      int targetQuery,
      int targetKey,
      int k,
      HeadSvd.Side side,
      double contribution,
      double share) {
    @Override
    public String toString() {
      return String.format(
          Locale.ROOT,
          "%s%s(%d->%d) -> %s(%d->%d) direction %d %s side: %.5g (%.0f%% of the factor)",
          "  ".repeat(depth - 1),
          source,
          sourceQuery,
          sourceKey,
          target,
          targetQuery,
          targetKey,
          k,
          side.id(),
          contribution,
          100 * share);
    }
  }

  /**
   * The hooks a trace from layer {@code layer} may read: {@link HeadPaths#hooks} of every layer up
   * to L and {@code attn.hook_pattern} of every layer below it.
   */
  public static List<String> hooks(int layer) {
    Set<String> h = new LinkedHashSet<>();
    for (int l = 0; l <= layer; l++) {
      h.addAll(HeadPaths.hooks(l));
      if (l < layer) {
        h.add(Hook.of(l, Hook.Point.PATTERN).name());
      }
    }
    return List.copyOf(h);
  }

  /**
   * Traces back from head {@code head} of layer {@code layer} at (query {@code t}, key {@code u}):
   * at every head, the directions carrying {@code share} of its score and its {@code perHead}
   * strongest upstream-head paths, for {@code depth} levels. Each (head, query, key) is expanded
   * once. Edges in the order found (depth first by strength).
   */
  public static List<Edge> of(
      ModelWeights model,
      Activations acts,
      int layer,
      int head,
      int t,
      int u,
      double share,
      int perHead,
      int depth) {
    List<Edge> out = new ArrayList<>();
    Map<Integer, ResidualSplit> splits = new HashMap<>();
    expand(model, acts, layer, head, t, u, share, perHead, depth, 1, splits, new HashSet<>(), out);
    return out;
  }

  /** Runs the forward pass with exactly {@link #hooks}, then {@link #of}. */
  public static List<Edge> trace(
      ModelWeights model,
      int[] tokenIds,
      int layer,
      int head,
      int t,
      int u,
      double share,
      int perHead,
      int depth) {
    try (Activations acts = ForwardPass.run(model, tokenIds, hooks(layer))) {
      return of(model, acts, layer, head, t, u, share, perHead, depth);
    }
  }

  private static void expand(
      ModelWeights model,
      Activations acts,
      int layer,
      int head,
      int t,
      int u,
      double share,
      int perHead,
      int depthLeft,
      int depth,
      Map<Integer, ResidualSplit> splits,
      Set<List<Integer>> seen,
      List<Edge> out) {
    if (depthLeft <= 0 || layer == 0 || !seen.add(List.of(layer, head, t, u))) {
      return;
    }
    PromptSvd s = PromptSvd.of(model, acts, layer, head, t, u);
    ResidualSplit split = splits.computeIfAbsent(layer, l -> ResidualSplit.of(model, acts, l));
    HeadPaths hp = HeadPaths.of(s, split, s.directionsFor(share));
    for (HeadPaths.Path p : hp.topHeadPaths(perHead)) {
      int sl = p.source().layer();
      int sh = p.source().head();
      int pos = p.side() == HeadSvd.Side.QUERY ? t : u;
      int key = argmaxKey(acts.get(Hook.of(sl, Hook.Point.PATTERN)), sh, pos);
      out.add(
          new Edge(
              depth,
              p.source().name(),
              pos,
              key,
              s.headName(),
              t,
              u,
              p.k(),
              p.side(),
              p.contribution(),
              p.share()));
      expand(
          model,
          acts,
          sl,
          sh,
          pos,
          key,
          share,
          perHead,
          depthLeft - 1,
          depth + 1,
          splits,
          seen,
          out);
    }
  }

  private static int argmaxKey(INDArray pattern, int head, int t) {
    int best = 0;
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j <= t; j++) {
      double p = pattern.getDouble(head, t, j);
      if (p > max) {
        max = p;
        best = j;
      }
    }
    return best;
  }
}
