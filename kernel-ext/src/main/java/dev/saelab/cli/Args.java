package dev.saelab.cli;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Minimal (shared by the command line and the magics) {@code --key value} / {@code --flag} parser that names unknown and missing options. */
public final class Args {
  private final Map<String, String> values = new HashMap<>();
  private final Set<String> flags = new HashSet<>();
  private final String command;

  public Args(String command, String[] args, List<String> valueOptions, List<String> flagOptions) {
    this.command = command;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (flagOptions.contains(a)) {
        flags.add(a);
      } else if (valueOptions.contains(a)) {
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(a + " needs a value");
        }
        values.put(a, args[++i]);
      } else {
        throw new IllegalArgumentException("unknown option '" + a + "' (valid: " + String.join(" ", valueOptions)
            + " " + String.join(" ", flagOptions) + ")");
      }
    }
  }

  public String get(String key, String dflt) {
    return values.getOrDefault(key, dflt);
  }

  public String require(String key) {
    String v = values.get(key);
    if (v == null) {
      throw new IllegalArgumentException(command + " needs " + key + " (see " + command + " --help)");
    }
    return v;
  }

  public boolean has(String key) {
    return values.containsKey(key) || flags.contains(key);
  }

  public int intValue(String key, int dflt) {
    String v = values.get(key);
    if (v == null) {
      return dflt;
    }
    try {
      return Integer.parseInt(v.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " " + v + ": expected an integer");
    }
  }
}
