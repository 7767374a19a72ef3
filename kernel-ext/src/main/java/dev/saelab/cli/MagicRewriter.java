package dev.saelab.cli;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites SAE Lab magic lines into the equivalent Java call, for kernels without a magic API
 * (rapaio) and for the end-to-end harness: {@code FeatureTable t = %qk --heads 1} becomes {@code
 * FeatureTable t = SaeLab.magic("qk --heads 1");}. Both forms run the same magic engine ({@code
 * dev.saelab.magic.SaeLabMagics}); only the kernel's own magic parsing is bypassed. Other kernels'
 * magics are left alone.
 */
public final class MagicRewriter {
  private static final Pattern LINE =
      Pattern.compile("^(\\s*(?:[\\w.<>\\[\\], ?]+\\s+\\w+\\s*=\\s*)?)%(\\w+)(.*)$");

  /** Every SAE Lab magic name (the magic engine implements exactly these). */
  public static final List<String> NAMES = names();

  private MagicRewriter() {}

  private static List<String> names() {
    List<String> n = new java.util.ArrayList<>(List.of("saelab", "model", "sae", "labels"));
    n.addAll(Schema.SHARED.keySet());
    n.add("plot");
    return List.copyOf(n);
  }

  /** Rewrites every SAE Lab magic line of a cell; other lines are unchanged. */
  public static String rewriteCell(String source) {
    String[] lines = source.split("\n", -1);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < lines.length; i++) {
      if (i > 0) {
        sb.append('\n');
      }
      sb.append(rewriteLine(lines[i]));
    }
    return sb.toString();
  }

  /** Rewrites one line if it is an SAE Lab magic. */
  public static String rewriteLine(String line) {
    Matcher m = LINE.matcher(line);
    if (!m.matches() || !NAMES.contains(m.group(2))) {
      return line;
    }
    String args = m.group(3).strip();
    String call = m.group(2) + (args.isEmpty() ? "" : " " + args);
    String javaString = call.replace("\\", "\\\\").replace("\"", "\\\"");
    return m.group(1) + "SaeLab.magic(\"" + javaString + "\");";
  }
}
