package dev.saelab.forward;

import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A recorded activation, named as TransformerLens names it: {@code blocks.L.hook_resid_pre}, {@code
 * blocks.L.attn.hook_pattern}, {@code ln_final.hook_normalized}, ...
 *
 * @param layer the block, or -1 for {@code ln_final.hook_normalized}
 * @param point what is recorded
 */
public record Hook(int layer, Point point) {

  /** The hook points and their shapes ({@code T} tokens). */
  public enum Point {
    /** {@code blocks.L.hook_resid_pre}: the block's input, {@code [T, d_model]}. */
    RESID_PRE("hook_resid_pre", false),
    /**
     * {@code blocks.L.hook_resid_mid}: after attention joins the residual, {@code [T, d_model]}.
     */
    RESID_MID("hook_resid_mid", false),
    /** {@code blocks.L.hook_resid_post}: the block's output, {@code [T, d_model]}. */
    RESID_POST("hook_resid_post", false),
    /**
     * {@code blocks.L.hook_attn_out}: what attention adds to the residual (after Gemma's
     * post-norm), {@code [T, d_model]}.
     */
    ATTN_OUT("hook_attn_out", false),
    /** {@code blocks.L.hook_mlp_out}: what the MLP adds to the residual, {@code [T, d_model]}. */
    MLP_OUT("hook_mlp_out", false),
    /**
     * {@code blocks.L.attn.hook_q}: queries after q_norm, before RoPE, {@code [T, n_heads,
     * d_head]}.
     */
    Q("hook_q", true),
    /**
     * {@code blocks.L.attn.hook_k}: keys after k_norm, before RoPE, {@code [T, n_kv_heads,
     * d_head]}.
     */
    K("hook_k", true),
    /** {@code blocks.L.attn.hook_v}: values, {@code [T, n_kv_heads, d_head]}. */
    V("hook_v", true),
    /** {@code blocks.L.attn.hook_rot_q}: queries after RoPE, {@code [T, n_heads, d_head]}. */
    ROT_Q("hook_rot_q", true),
    /** {@code blocks.L.attn.hook_rot_k}: keys after RoPE, {@code [T, n_kv_heads, d_head]}. */
    ROT_K("hook_rot_k", true),
    /**
     * {@code blocks.L.attn.hook_attn_scores}: pre-softmax scores after scale, soft-cap and mask
     * (masked: -inf), {@code [n_heads, T, T]} (query, key).
     */
    ATTN_SCORES("hook_attn_scores", true),
    /** {@code blocks.L.attn.hook_pattern}: softmax probabilities, {@code [n_heads, T, T]}. */
    PATTERN("hook_pattern", true),
    /** {@code blocks.L.attn.hook_z}: each head's mix of values, {@code [T, n_heads, d_head]}. */
    Z("hook_z", true),
    /** {@code ln_final.hook_normalized}: the final norm's output, {@code [T, d_model]}. */
    FINAL("hook_normalized", false);

    private final String suffix;
    private final boolean attn;

    Point(String suffix, boolean attn) {
      this.suffix = suffix;
      this.attn = attn;
    }
  }

  private static final Pattern BLOCK =
      Pattern.compile("blocks\\.(\\d{1,6})\\.(attn\\.)?(hook_\\w+)");

  /** The final norm's output, {@code ln_final.hook_normalized}. */
  public static final Hook FINAL_NORM = new Hook(-1, Point.FINAL);

  /** A block's hook. */
  public static Hook of(int layer, Point point) {
    if (point == Point.FINAL || layer < 0) {
      throw new IllegalArgumentException(
          "hook " + point + " at layer " + layer + ": not a block hook");
    }
    return new Hook(layer, point);
  }

  /** Parses a TransformerLens name; the message lists the names understood. */
  public static Hook parse(String name) {
    String n = name.strip();
    if (n.equals("ln_final.hook_normalized")) {
      return FINAL_NORM;
    }
    Matcher m = BLOCK.matcher(n);
    if (m.matches()) {
      boolean attn = m.group(2) != null;
      for (Point p : Point.values()) {
        if (p != Point.FINAL && p.attn == attn && p.suffix.equals(m.group(3))) {
          return new Hook(Integer.parseInt(m.group(1)), p);
        }
      }
    }
    throw new IllegalArgumentException(
        "hook '" + name + "': expected one of " + String.join(", ", examples()));
  }

  /** The names understood, for layer {@code L}. */
  public static List<String> examples() {
    return Arrays.stream(Point.values())
        .map(p -> new Hook(p == Point.FINAL ? -1 : 0, p).name().replace("blocks.0.", "blocks.L."))
        .toList();
  }

  /** The TransformerLens name. */
  public String name() {
    if (point == Point.FINAL) {
      return "ln_final.hook_normalized";
    }
    return "blocks." + layer + "." + (point.attn ? "attn." : "") + point.suffix;
  }

  @Override
  public String toString() {
    return name();
  }
}
