package dev.saelab.io;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The parts of the machine that decide where files go: the environment, the operating system's name
 * ({@code os.name}) and the user's home ({@code user.home}). Folders are computed as strings with
 * that system's separator, so a test on Linux can compute (and check) the macOS or Windows layout
 * from injected values; {@link #path} turns one into a {@link Path} on the machine it runs on.
 *
 * @param env environment variables
 * @param osName e.g. {@code Linux}, {@code Mac OS X}, {@code Windows 11}
 * @param userHome the home folder as the JVM reports it
 */
public record HostEnv(Map<String, String> env, String osName, String userHome) {
  /** This JVM's environment, {@code os.name} and {@code user.home}. */
  public static HostEnv current() {
    return new HostEnv(
        System.getenv(), System.getProperty("os.name", ""), System.getProperty("user.home", ""));
  }

  /** Whether this is Windows. */
  public boolean windows() {
    return osName.toLowerCase(Locale.ROOT).startsWith("windows");
  }

  /** Whether this is macOS. */
  public boolean mac() {
    String n = osName.toLowerCase(Locale.ROOT);
    return n.startsWith("mac") || n.startsWith("darwin");
  }

  /** The separator of folder names: {@code \} on Windows, {@code /} elsewhere. */
  public String separator() {
    return windows() ? "\\" : "/";
  }

  /**
   * The separator of folder lists ({@code PATH}, {@code JUPYTER_PATH}): ; on Windows, : elsewhere.
   */
  public String listSeparator() {
    return windows() ? ";" : ":";
  }

  /** A non-empty environment variable, or null. */
  public String get(String name) {
    String v = env.get(name);
    return v == null || v.isEmpty() ? null : v;
  }

  /**
   * The home folder as Python's {@code os.path.expanduser("~")} finds it: {@code %USERPROFILE%} on
   * Windows, {@code $HOME} elsewhere, else the JVM's {@code user.home}.
   */
  public String home() {
    String h = get(windows() ? "USERPROFILE" : "HOME");
    return h != null ? h : userHome;
  }

  /** {@code ~} or {@code ~/rest} at the start of a value replaced by {@link #home()}. */
  public String expandUser(String value) {
    if (value.equals("~")) {
      return home();
    }
    if (value.startsWith("~/") || (windows() && value.startsWith("~\\"))) {
      return join(home(), value.substring(2));
    }
    return value;
  }

  /** {@code first} and {@code more} joined with this system's separator (no doubled separator). */
  public String join(String first, String... more) {
    StringBuilder sb = new StringBuilder(first);
    for (String m : more) {
      boolean endsWithSep =
          sb.length() > 0
              && (sb.charAt(sb.length() - 1) == '/' || sb.charAt(sb.length() - 1) == '\\');
      if (!endsWithSep) {
        sb.append(separator());
      }
      sb.append(m);
    }
    return sb.toString();
  }

  /**
   * A folder list ({@code JUPYTER_PATH}) split on this system's list separator, empty parts left
   * out.
   */
  public List<String> splitList(String value) {
    List<String> out = new ArrayList<>();
    if (value == null) {
      return out;
    }
    for (String p : value.split(java.util.regex.Pattern.quote(listSeparator()))) {
      if (!p.isBlank()) {
        out.add(p);
      }
    }
    return out;
  }

  /** A folder computed here, on the machine this JVM runs on. */
  public static Path path(String folder) {
    return Path.of(folder);
  }
}
