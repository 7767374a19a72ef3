package dev.saelab.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Predicate;

/**
 * Chooses and starts ND4J's native CPU backend once per JVM, on every platform SAE Lab builds for:
 * {@code linux-x86_64}, {@code linux-arm64}, {@code macosx-arm64}, {@code macosx-x86_64} and {@code
 * windows-x86_64} (named as JavaCPP names them; the build puts the natives of the machine it runs
 * on, or of the platforms it is asked for, on the class path).
 *
 * <p>On Linux x86-64 two native builds ship: the generic one and {@code
 * linux-x86_64-onednn-avx512}, about twice as fast on CPUs with AVX-512 (oneDNN ignores the
 * machine's {@code OPENBLAS_CORETYPE} pin) and the only one whose integer GEMM is fast (the int8
 * tile screen). The AVX-512 build would crash a CPU without those instructions, so the choice is
 * made from the CPU flags in {@code /proc/cpuinfo} unless the user sets the system property {@code
 * saelab.native} to {@code generic} or {@code avx512} (or sets JavaCPP's own {@code
 * org.bytedeco.javacpp.platform.extension}). Every other platform has the generic build only, and
 * there nothing needs reading: the float32 screen is used (same tables). JavaCPP's off-heap limits
 * are set explicitly (defaults: 8 GiB / 12 GiB, overridable with the usual {@code
 * org.bytedeco.javacpp.maxbytes} and {@code maxphysicalbytes}).
 */
public final class Backend {
  /** JavaCPP's property naming the native build variant. */
  public static final String EXTENSION_PROPERTY = "org.bytedeco.javacpp.platform.extension";

  /** The one platform with a second, faster native build. */
  static final String AVX512_PLATFORM = "linux-x86_64";

  /** That build's classifier suffix ({@code org.bytedeco.javacpp.platform.extension}). */
  static final String AVX512_EXTENSION = "-onednn-avx512";

  private static volatile Choice chosen;

  private Backend() {}

  /**
   * A choice of native build.
   *
   * @param platform JavaCPP's platform name, e.g. {@code macosx-arm64}
   * @param variant {@code "avx512"} (the oneDNN AVX-512 build) or {@code "generic"}
   * @param reason why, in a few words (shown by {@code %saelab status} and {@code saelab bench})
   */
  public record Choice(String platform, String variant, String reason) {
    /** The classifier of the native jar in use, e.g. {@code linux-x86_64-onednn-avx512}. */
    public String classifier() {
      return platform + (isAvx512() ? AVX512_EXTENSION : "");
    }

    /** Whether the oneDNN build runs (the only one with a fast integer GEMM). */
    public boolean isAvx512() {
      return variant.equals("avx512");
    }

    /** E.g. {@code macosx-arm64 (generic build: the only one for this platform)}. */
    @Override
    public String toString() {
      return classifier() + " (" + reason + ")";
    }
  }

  /**
   * Configures and loads ND4J if not done yet; returns the native variant in use ("generic" or
   * "avx512").
   */
  public static synchronized String init() {
    if (chosen != null) {
      return chosen.variant();
    }
    String osName = System.getProperty("os.name", "");
    Choice choice;
    String existing = System.getProperty(EXTENSION_PROPERTY);
    String platform = platform(osName, System.getProperty("os.arch", ""));
    if (existing != null) {
      choice =
          new Choice(
              platform,
              existing.equals(AVX512_EXTENSION) ? "avx512" : "generic",
              "set by " + EXTENSION_PROPERTY + "=" + existing);
    } else {
      choice =
          choose(
              System.getProperty("saelab.native", "auto"),
              platform,
              cpuFlags(osName),
              Backend::hasNatives);
      if (choice.isAvx512()) {
        System.setProperty(EXTENSION_PROPERTY, AVX512_EXTENSION);
      }
    }
    setIfAbsent("org.bytedeco.javacpp.maxbytes", "8G");
    setIfAbsent("org.bytedeco.javacpp.maxphysicalbytes", "12G");
    // ND4J logs through slf4j; without a binding it prints a 3-line warning on every start.
    setIfAbsent("slf4j.internal.verbosity", "WARN");
    try {
      org.nd4j.linalg.factory.Nd4j.create(1); // loads the natives now, not inside a user's first op
    } catch (RuntimeException | LinkageError e) {
      if (!hasNatives(choice.classifier())) {
        throw new IllegalStateException(missingNatives(choice.classifier()), e);
      }
      throw e;
    }
    chosen = choice;
    return choice.variant();
  }

  /** The variant in use ("generic" or "avx512"), or null before {@link #init()}. */
  public static String variant() {
    Choice c = chosen;
    return c == null ? null : c.variant();
  }

  /** The choice in use, starting ND4J if not done yet. */
  public static Choice choice() {
    init();
    return chosen;
  }

  /**
   * One line for {@code %saelab status} and {@code saelab bench}: the native build in use and why,
   * e.g. {@code linux-x86_64-onednn-avx512 (the CPU has AVX-512)}.
   */
  public static String describe() {
    return choice().toString();
  }

  /**
   * JavaCPP's name for a platform ({@code Loader.getPlatform()}): {@code linux}, {@code macosx} or
   * {@code windows}, then {@code x86_64}, {@code arm64}, {@code x86} or the JVM's own word.
   *
   * @param osName the JVM's {@code os.name}, e.g. {@code Mac OS X} or {@code Windows 11}
   * @param osArch the JVM's {@code os.arch}, e.g. {@code aarch64} or {@code amd64}
   */
  public static String platform(String osName, String osArch) {
    String os = osName.toLowerCase(Locale.ROOT).strip();
    if (os.startsWith("mac os x") || os.startsWith("darwin")) {
      os = "macosx";
    } else if (os.indexOf(' ') > 0) {
      os = os.substring(0, os.indexOf(' '));
    }
    String arch = osArch.toLowerCase(Locale.ROOT).strip();
    if (arch.matches("i[3-6]86")) {
      arch = "x86";
    } else if (arch.equals("amd64") || arch.equals("x86-64") || arch.equals("x64")) {
      arch = "x86_64";
    } else if (arch.startsWith("aarch64") || arch.startsWith("armv8") || arch.startsWith("arm64")) {
      arch = "arm64";
    }
    return os + "-" + arch;
  }

  /**
   * Picks the native build: on {@code linux-x86_64}, {@code "avx512"} when requested or when {@code
   * auto} and the CPU has AVX-512F and AVX-512BW and that build is on the class path; {@code
   * "generic"} otherwise and on every other platform.
   *
   * @param request {@code auto}, {@code generic} or {@code avx512} (the {@code saelab.native}
   *     property)
   * @param platform JavaCPP's platform name ({@link #platform})
   * @param cpuFlags the CPU's flags as {@code /proc/cpuinfo} lists them ("" when unknown)
   * @param hasNatives whether the native jar of a classifier is on the class path
   */
  static Choice choose(
      String request, String platform, String cpuFlags, Predicate<String> hasNatives) {
    boolean x86Linux = platform.equals(AVX512_PLATFORM);
    boolean oneDnn = x86Linux && hasNatives.test(AVX512_PLATFORM + AVX512_EXTENSION);
    switch (request.toLowerCase(Locale.ROOT)) {
      case "generic":
        return new Choice(platform, "generic", "requested by saelab.native=generic");
      case "avx512":
        if (!x86Linux) {
          throw new IllegalArgumentException(
              "system property saelab.native=avx512: the oneDNN AVX-512 build exists for "
                  + AVX512_PLATFORM
                  + " only, this machine is "
                  + platform);
        }
        if (!oneDnn) {
          throw new IllegalArgumentException(
              "system property saelab.native=avx512: "
                  + missingNatives(AVX512_PLATFORM + AVX512_EXTENSION));
        }
        return new Choice(platform, "avx512", "requested by saelab.native=avx512");
      case "auto":
        if (!x86Linux) {
          return new Choice(platform, "generic", "the only build for this platform");
        }
        if (cpuFlags.isBlank()) {
          return new Choice(platform, "generic", "the CPU's flags are unknown");
        }
        if (!(hasFlag(cpuFlags, "avx512f") && hasFlag(cpuFlags, "avx512bw"))) {
          return new Choice(platform, "generic", "the CPU has no AVX-512");
        }
        if (!oneDnn) {
          return new Choice(platform, "generic", "the oneDNN build is not on the class path");
        }
        return new Choice(platform, "avx512", "the CPU has AVX-512");
      default:
        throw new IllegalArgumentException(
            "system property saelab.native=" + request + ": expected auto, generic or avx512");
    }
  }

  static boolean hasFlag(String flags, String flag) {
    for (String f : flags.split("\\s+")) {
      if (f.equals(flag)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether the CPU has 8-bit dot-product instructions (AVX-512 VNNI or AVX-VNNI), with which
   * integer GEMM kernels sum int8 products straight into int32; without them (or where the flags
   * are unknown) some kernels pair products in saturating 16-bit sums.
   */
  public static boolean hasVnni() {
    String f = cpuFlags(System.getProperty("os.name", ""));
    return hasFlag(f, "avx512_vnni") || hasFlag(f, "avx_vnni");
  }

  /**
   * Whether the ND4J native jar of {@code classifier} (e.g. {@code macosx-arm64}) is on the class
   * path: each holds {@code META-INF/native-image/CLASSIFIER/jnind4jcpu/jni-config.json}.
   */
  static boolean hasNatives(String classifier) {
    ClassLoader cl = Backend.class.getClassLoader();
    return cl != null
        && cl.getResource("META-INF/native-image/" + classifier + "/jnind4jcpu/jni-config.json")
            != null;
  }

  static String missingNatives(String classifier) {
    String platform =
        classifier.endsWith(AVX512_EXTENSION)
            ? classifier.substring(0, classifier.length() - AVX512_EXTENSION.length())
            : classifier;
    return "ND4J's natives for "
        + classifier
        + " are not on the class path (org.nd4j:nd4j-native:jar:"
        + classifier
        + "); build SAE Lab on this machine (its platform is picked) or with the Maven profile "
        + platform;
  }

  /**
   * The CPU's flags on Linux ({@code /proc/cpuinfo}); "" elsewhere, where only the generic build
   * exists and nothing depends on them.
   */
  private static String cpuFlags(String osName) {
    if (!osName.toLowerCase(Locale.ROOT).startsWith("linux")) {
      return "";
    }
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("flags")) {
          return line.substring(line.indexOf(':') + 1);
        }
      }
    } catch (IOException | RuntimeException e) {
      // no /proc (a container without it): the generic build is always safe
    }
    return "";
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
