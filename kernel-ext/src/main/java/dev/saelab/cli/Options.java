package dev.saelab.cli;

import dev.saelab.circuits.HeadSet;
import dev.saelab.circuits.QkNorm;
import dev.saelab.circuits.Rope;
import dev.saelab.linalg.RankBy;
import picocli.CommandLine.Option;

/** The options several commands share, each declared and checked once, mixed into the commands. */
public final class Options {
  private Options() {}

  /** {@code --heads all|sum|0,3}: sum (the summed circuit) is taken by the table commands only. */
  public static final class HeadsOption {
    @Option(
        names = "--heads",
        paramLabel = "all|sum|0,3",
        defaultValue = "all",
        converter = Converters.HeadsConverter.class,
        description =
            "query heads: all (default) or a list like 0,3; the table commands also take sum: the"
                + " layer's circuit summed over heads, with head_spread (heads carrying 80%%) and"
                + " weak_in_every_head (in no head's own top K)")
    Heads heads;

    /** Whether {@code sum} was asked for. */
    public boolean sum() {
      return heads.sum();
    }

    /** The head set ({@code sum}: all heads). */
    public HeadSet set() {
      return heads.set();
    }

    /** The heads for a model with {@code nHeads} query heads, each checked. */
    public int[] resolve(int nHeads) {
      return heads.resolve(nHeads);
    }

    /** As {@link #resolve}, for a command that has no summed form. */
    public int[] list(int nHeads) {
      if (heads.sum()) {
        throw new IllegalArgumentException("--heads sum: expected all or a list of heads here");
      }
      return resolve(nHeads);
    }

    @Override
    public String toString() {
      return heads.toString();
    }
  }

  /** {@code --rank-by abs|value|-value}. */
  public static final class RankByOption {
    @Option(
        names = "--rank-by",
        paramLabel = "abs|value|-value",
        defaultValue = "abs",
        converter = Converters.RankByConverter.class,
        description = "ranking key (default ${DEFAULT-VALUE})")
    RankBy rankBy;

    /** The ranking. */
    public RankBy value() {
      return rankBy;
    }
  }

  /** {@code --scale raw|query}. */
  public static final class ScaleOption {
    @Option(
        names = "--scale",
        paramLabel = "raw|query",
        defaultValue = "raw",
        converter = Converters.ScaleConverter.class,
        description =
            "query: QK values × the model's query scale (1/√d_head; Gemma:"
                + " query_pre_attn_scalar^-½); raw (default)")
    Converters.Scale scale;

    /** Whether QK values are multiplied by the model's query scale. */
    public boolean query() {
      return scale == Converters.Scale.QUERY;
    }
  }

  /** {@code --pairing rotate-half|interleaved}. */
  public static final class PairingOption {
    @Option(
        names = "--pairing",
        paramLabel = "rotate-half|interleaved",
        defaultValue = "rotate-half",
        converter = Converters.PairingConverter.class,
        description =
            "RoPE dimension pairing: rotate-half (Gemma, Llama; default) or interleaved (the post's"
                + " plot)")
    Rope.Pairing pairing;

    /** The pairing. */
    public Rope.Pairing value() {
      return pairing;
    }
  }

  /** {@code --qk-norm exact|proxy}: how QK passes q_norm/k_norm (Gemma 3, Qwen3). */
  public static final class QkNormOption {
    @Option(
        names = "--qk-norm",
        paramLabel = "exact|proxy",
        defaultValue = "exact",
        converter = Converters.QkNormConverter.class,
        description =
            "models with q_norm/k_norm (Gemma 3, Qwen3): exact (default) normalises each query and"
                + " key as the model does, QK = (g_q⊙q)·(g_k⊙k)/(rms(q) rms(k)); proxy keeps the"
                + " gains only (bilinear); other models ignore it")
    QkNorm qkNorm;

    /** The choice. */
    public QkNorm value() {
      return qkNorm;
    }
  }
}
