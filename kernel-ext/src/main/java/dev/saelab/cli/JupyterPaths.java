package dev.saelab.cli;

import dev.saelab.io.HostEnv;
import java.util.ArrayList;
import java.util.List;

/**
 * Where Jupyter keeps its files and looks for kernelspecs, as {@code jupyter_core.paths} computes
 * them on Linux, macOS and Windows (folders as strings in that system's spelling; see {@link
 * HostEnv}).
 *
 * @param host the environment, system and home folder
 */
public record JupyterPaths(HostEnv host) {
  /** This machine's. */
  public static JupyterPaths current() {
    return new JupyterPaths(HostEnv.current());
  }

  /**
   * The user's data folder ({@code jupyter --data-dir}): {@code JUPYTER_DATA_DIR}, else {@code
   * ~/Library/Jupyter} on macOS, {@code %APPDATA%\jupyter} on Windows ({@code ~\.jupyter\data}
   * without {@code APPDATA}), {@code $XDG_DATA_HOME/jupyter} or {@code ~/.local/share/jupyter}
   * elsewhere. {@code pip install --user} and {@code jupyter kernelspec install --user} put
   * kernelspecs in its {@code kernels} folder.
   */
  public String dataDir() {
    String v = host.get("JUPYTER_DATA_DIR");
    if (v != null) {
      return v;
    }
    if (host.mac()) {
      return host.join(host.home(), "Library", "Jupyter");
    }
    if (host.windows()) {
      String appdata = host.get("APPDATA");
      return appdata != null ? host.join(appdata, "jupyter") : host.join(configDir(), "data");
    }
    String xdg = host.get("XDG_DATA_HOME");
    return host.join(xdg != null ? xdg : host.join(host.home(), ".local", "share"), "jupyter");
  }

  /** {@code JUPYTER_CONFIG_DIR}, else {@code ~/.jupyter}. */
  public String configDir() {
    String v = host.get("JUPYTER_CONFIG_DIR");
    return v != null ? v : host.join(host.home(), ".jupyter");
  }

  /**
   * The runtime folder (connection files): {@code JUPYTER_RUNTIME_DIR}, else the data folder's
   * {@code runtime}, on every system.
   */
  public String runtimeDir() {
    String v = host.get("JUPYTER_RUNTIME_DIR");
    return v != null ? v : host.join(dataDir(), "runtime");
  }

  /**
   * The data folders searched for kernelspecs, in Jupyter's order ({@code jupyter --paths}): {@code
   * JUPYTER_PATH}'s entries, the user's {@link #dataDir}, the active Python environment's {@code
   * share/jupyter} ({@code VIRTUAL_ENV}, {@code CONDA_PREFIX}), then the system's: {@code
   * %PROGRAMDATA%\jupyter} on Windows; {@code /usr/local/share/jupyter} and {@code
   * /usr/share/jupyter} elsewhere, and on macOS Homebrew's {@code /opt/homebrew/share/jupyter}.
   */
  public List<String> dataPath() {
    List<String> out = new ArrayList<>();
    for (String p : host.splitList(host.get("JUPYTER_PATH"))) {
      add(out, p.replaceAll("[/\\\\]+$", ""));
    }
    add(out, dataDir());
    for (String prefix : new String[] {host.get("VIRTUAL_ENV"), host.get("CONDA_PREFIX")}) {
      if (prefix != null) {
        add(out, host.join(prefix, "share", "jupyter"));
      }
    }
    if (host.windows()) {
      String programData = host.get("PROGRAMDATA");
      if (programData != null) {
        add(out, host.join(programData, "jupyter"));
      }
    } else {
      add(out, "/usr/local/share/jupyter");
      add(out, "/usr/share/jupyter");
      if (host.mac()) {
        add(out, "/opt/homebrew/share/jupyter");
      }
    }
    return out;
  }

  /** Each of {@link #dataPath()}'s folders with {@code kernels} appended. */
  public List<String> kernelDirs() {
    List<String> out = new ArrayList<>();
    for (String d : dataPath()) {
      out.add(host.join(d, "kernels"));
    }
    return out;
  }

  private static void add(List<String> list, String folder) {
    if (!folder.isEmpty() && !list.contains(folder)) {
      list.add(folder);
    }
  }
}
