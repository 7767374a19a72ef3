package dev.saelab.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Chooses and starts ND4J's native CPU backend once per JVM.
 *
 * <p>Two native builds ship: the generic {@code linux-x86_64} one and {@code
 * linux-x86_64-onednn-avx512}, about twice as fast on CPUs with AVX-512 (oneDNN ignores the
 * machine's {@code OPENBLAS_CORETYPE} pin). The AVX-512 build would crash a CPU without those
 * instructions, so the choice is made from {@code /proc/cpuinfo} unless the user sets the system
 * property {@code saelab.native} to {@code generic} or {@code avx512} (or sets JavaCPP's own {@code
 * org.bytedeco.javacpp.platform.extension}). JavaCPP's off-heap limits are set explicitly
 * (defaults: 8 GiB / 12 GiB, overridable with the usual {@code org.bytedeco.javacpp.maxbytes} and
 * {@code maxphysicalbytes}).
 */
public final class Backend {
  /** JavaCPP's property naming the native build variant. */
  public static final String EXTENSION_PROPERTY = "org.bytedeco.javacpp.platform.extension";

  private static volatile String chosen;

  private Backend() {}

  /**
   * Configures and loads ND4J if not done yet; returns the native variant in use ("generic" or
   * "avx512").
   */
  public static synchronized String init() {
    if (chosen != null) {
      return chosen;
    }
    String existing = System.getProperty(EXTENSION_PROPERTY);
    String variant;
    if (existing != null) {
      variant = existing.isEmpty() ? "generic" : existing.replace("-onednn-", "");
    } else {
      variant = choose(System.getProperty("saelab.native", "auto"), cpuFlags());
      if (variant.equals("avx512")) {
        System.setProperty(EXTENSION_PROPERTY, "-onednn-avx512");
      }
    }
    setIfAbsent("org.bytedeco.javacpp.maxbytes", "8G");
    setIfAbsent("org.bytedeco.javacpp.maxphysicalbytes", "12G");
    // ND4J logs through slf4j; without a binding it prints a 3-line warning on every start.
    setIfAbsent("slf4j.internal.verbosity", "WARN");
    org.nd4j.linalg.factory.Nd4j.create(1); // loads the natives now, not inside a user's first op
    chosen = variant;
    return variant;
  }

  /** The variant in use, or null before {@link #init()}. */
  public static String variant() {
    return chosen;
  }

  /**
   * Picks the native variant: {@code "avx512"} when requested or when {@code auto} and the CPU has
   * AVX-512F, otherwise {@code "generic"}.
   */
  static String choose(String request, String cpuFlags) {
    switch (request.toLowerCase(Locale.ROOT)) {
      case "generic":
        return "generic";
      case "avx512":
        return "avx512";
      case "auto":
        return hasFlag(cpuFlags, "avx512f") && hasFlag(cpuFlags, "avx512bw") ? "avx512" : "generic";
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
   * integer GEMM kernels sum int8 products straight into int32; without them some kernels pair
   * products in saturating 16-bit sums.
   */
  public static boolean hasVnni() {
    String f = cpuFlags();
    return hasFlag(f, "avx512_vnni") || hasFlag(f, "avx_vnni");
  }

  private static String cpuFlags() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("flags")) {
          return line.substring(line.indexOf(':') + 1);
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or no /proc: the generic build is always safe
    }
    return "";
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
