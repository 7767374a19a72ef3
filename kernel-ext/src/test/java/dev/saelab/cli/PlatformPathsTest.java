package dev.saelab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.hub.Hub;
import dev.saelab.io.HostEnv;
import dev.saelab.magic.SaeLabMagics;
import dev.saelab.testutil.TestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Jupyter's folders and the Hugging Face cache on Linux, macOS and Windows from injected
 * environments (as {@code jupyter_core.paths} and {@code huggingface_hub.constants} compute them),
 * and path arguments with spaces and Windows separators.
 */
class PlatformPathsTest {
  static final Map<String, String> WINDOWS_ENV =
      Map.of(
          "USERPROFILE", "C:\\Users\\Ada Lovelace",
          "APPDATA", "C:\\Users\\Ada Lovelace\\AppData\\Roaming",
          "PROGRAMDATA", "C:\\ProgramData");

  static JupyterPaths jupyter(Map<String, String> env, String os, String home) {
    return new JupyterPaths(new HostEnv(env, os, home));
  }

  @Test
  void jupyterFoldersOnLinux() {
    JupyterPaths p = jupyter(Map.of("HOME", "/home/ada"), "Linux", "/home/ada");
    assertEquals("/home/ada/.local/share/jupyter", p.dataDir());
    assertEquals("/home/ada/.local/share/jupyter/runtime", p.runtimeDir());
    assertEquals(
        List.of(
            "/home/ada/.local/share/jupyter/kernels",
            "/usr/local/share/jupyter/kernels",
            "/usr/share/jupyter/kernels"),
        p.kernelDirs());
    JupyterPaths xdg =
        jupyter(
            Map.of(
                "HOME", "/home/ada",
                "XDG_DATA_HOME", "/data/ada",
                "JUPYTER_PATH", "/opt/j1:/opt/j2/",
                "VIRTUAL_ENV", "/home/ada/venv"),
            "Linux",
            "/home/ada");
    assertEquals("/data/ada/jupyter", xdg.dataDir());
    assertEquals(
        List.of(
            "/opt/j1",
            "/opt/j2",
            "/data/ada/jupyter",
            "/home/ada/venv/share/jupyter",
            "/usr/local/share/jupyter",
            "/usr/share/jupyter"),
        xdg.dataPath());
    JupyterPaths set =
        jupyter(
            Map.of("JUPYTER_DATA_DIR", "/scratch/jd", "JUPYTER_RUNTIME_DIR", "/run/user/1/jr"),
            "Linux",
            "/home/ada");
    assertEquals("/scratch/jd", set.dataDir());
    assertEquals("/run/user/1/jr", set.runtimeDir());
  }

  @Test
  void jupyterFoldersOnMacOs() {
    JupyterPaths p =
        jupyter(
            Map.of("HOME", "/Users/ada", "XDG_DATA_HOME", "/ignored/on/macos"),
            "Mac OS X",
            "/Users/ada");
    assertEquals("/Users/ada/Library/Jupyter", p.dataDir());
    assertEquals("/Users/ada/Library/Jupyter/runtime", p.runtimeDir());
    assertEquals(
        List.of(
            "/Users/ada/Library/Jupyter/kernels",
            "/usr/local/share/jupyter/kernels",
            "/usr/share/jupyter/kernels",
            "/opt/homebrew/share/jupyter/kernels"),
        p.kernelDirs(),
        "pip --user, Intel Homebrew and Apple-silicon Homebrew");
  }

  @Test
  void jupyterFoldersOnWindows() {
    JupyterPaths p = jupyter(WINDOWS_ENV, "Windows 11", "C:\\Users\\Ada Lovelace");
    assertEquals("C:\\Users\\Ada Lovelace\\AppData\\Roaming\\jupyter", p.dataDir());
    assertEquals("C:\\Users\\Ada Lovelace\\AppData\\Roaming\\jupyter\\runtime", p.runtimeDir());
    assertEquals(
        List.of(
            "C:\\Users\\Ada Lovelace\\AppData\\Roaming\\jupyter\\kernels",
            "C:\\ProgramData\\jupyter\\kernels"),
        p.kernelDirs());
    // JUPYTER_PATH is ;-separated there (a drive letter's colon is no separator)
    JupyterPaths jp =
        jupyter(
            Map.of("USERPROFILE", "C:\\Users\\ada", "JUPYTER_PATH", "D:\\jupyter;E:\\shared\\"),
            "Windows 10",
            "C:\\Users\\ada");
    assertEquals(
        List.of("D:\\jupyter", "E:\\shared", "C:\\Users\\ada\\.jupyter\\data"),
        jp.dataPath(),
        "without APPDATA: ~\\.jupyter\\data");
  }

  @Test
  void huggingFaceCacheOnEachSystem() {
    HostEnv linux = new HostEnv(Map.of("HOME", "/home/ada"), "Linux", "/home/ada");
    assertEquals("/home/ada/.cache/huggingface", Hub.hfHome(linux));
    assertEquals("/home/ada/.cache/huggingface/hub", Hub.hubCache(linux));
    assertEquals("/home/ada/.cache/huggingface/token", Hub.tokenPath(linux));
    HostEnv mac = new HostEnv(Map.of("HOME", "/Users/ada"), "Mac OS X", "/Users/ada");
    assertEquals("/Users/ada/.cache/huggingface/hub", Hub.hubCache(mac), "not ~/Library/Caches");
    HostEnv win = new HostEnv(WINDOWS_ENV, "Windows 11", "C:\\Users\\Ada Lovelace");
    assertEquals("C:\\Users\\Ada Lovelace\\.cache\\huggingface", Hub.hfHome(win));
    assertEquals("C:\\Users\\Ada Lovelace\\.cache\\huggingface\\hub", Hub.hubCache(win));
    assertEquals("C:\\Users\\Ada Lovelace\\.cache\\huggingface\\token", Hub.tokenPath(win));
    // the variables, in huggingface_hub's order, on any system
    HostEnv xdg = new HostEnv(Map.of("HOME", "/home/ada", "XDG_CACHE_HOME", "/cache"), "Linux", "");
    assertEquals("/cache/huggingface/hub", Hub.hubCache(xdg));
    HostEnv home =
        new HostEnv(
            Map.of("HOME", "/home/ada", "HF_HOME", "~/hf", "XDG_CACHE_HOME", "/c"), "Linux", "");
    assertEquals("/home/ada/hf/hub", Hub.hubCache(home), "HF_HOME wins, ~ expanded");
    HostEnv legacy =
        new HostEnv(
            Map.of("HOME", "/h", "HF_HOME", "/hf", "HUGGINGFACE_HUB_CACHE", "/old"), "Linux", "");
    assertEquals("/old", Hub.hubCache(legacy));
    assertEquals("/hf/token", Hub.tokenPath(legacy));
    HostEnv cache =
        new HostEnv(
            Map.of("HF_HUB_CACHE", "D:\\hf cache", "HUGGINGFACE_HUB_CACHE", "/old"),
            "Windows 11",
            "C:\\Users\\ada");
    assertEquals("D:\\hf cache", Hub.hubCache(cache));
  }

  @Test
  void pathArgumentsWithSpacesGiveTheSameTables(@TempDir Path tmp) throws Exception {
    Path data = TestFiles.datasets();
    Path model = copy(data.resolve("tiny-gemma2"), tmp.resolve("My Models/tiny gemma2"));
    Path sae =
        copy(
            data.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12"),
            tmp.resolve("SAEs (Gemma Scope)/layer 0"));
    Path out = tmp.resolve("out dir/qk table.csv");
    String[] spaced =
        InspectCommandTest.run(
            "qk",
            "--model",
            model.toString(),
            "--layer",
            "1",
            "--sae-in",
            sae.toString(),
            "--heads",
            "1",
            "--top",
            "5",
            "--out",
            out.toString());
    assertEquals("0", spaced[0], spaced[2]);
    Path plainOut = tmp.resolve("plain.csv");
    String[] plain =
        InspectCommandTest.run(
            "qk",
            "--model",
            data.resolve("tiny-gemma2").toString(),
            "--layer",
            "1",
            "--sae-in",
            data.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12").toString(),
            "--heads",
            "1",
            "--top",
            "5",
            "--out",
            plainOut.toString());
    assertEquals("0", plain[0], plain[2]);
    assertEquals(Files.readString(plainOut), Files.readString(out));
    String[] inspect = InspectCommandTest.run("inspect", model.toString());
    assertEquals("0", inspect[0], inspect[2]);
    assertTrue(inspect[1].contains("model gemma2: d_model=48"), inspect[1]);
  }

  @Test
  void magicLinesKeepSpacesAndBackslashes() {
    // a quoted Windows path is one word, its backslashes kept (they are no escapes)
    assertEquals(
        List.of("model", "C:\\Users\\Ada Lovelace\\models\\tiny gemma2", "--layer", "1"),
        SaeLabMagics.split("model \"C:\\Users\\Ada Lovelace\\models\\tiny gemma2\" --layer 1"));
    assertEquals(
        List.of("sae", "D:\\saes\\clt#layer=1"), SaeLabMagics.split("sae D:\\saes\\clt#layer=1"));
    // rapaio's rewrite keeps them inside a Java string literal
    String call = MagicRewriter.rewriteLine("%model \"C:\\Users\\Ada Lovelace\\m\" --layer 1");
    assertTrue(call.contains("C:\\\\Users\\\\Ada Lovelace\\\\m"), call);
  }

  static Path copy(Path from, Path to) throws Exception {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path d = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(d);
        } else {
          Files.copy(p, d);
        }
      }
    }
    return to;
  }
}
