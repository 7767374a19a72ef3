package dev.saelab.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * The native build chosen on each platform SAE Lab builds for, from injected {@code os.name},
 * {@code os.arch}, CPU flags and class path (CI runs on Linux x86-64 only).
 */
class BackendTest {
  static final String AVX512_FLAGS = "fpu sse2 avx2 avx512f avx512dq avx512bw avx512_vnni";
  static final String AVX2_FLAGS = "fpu sse2 avx avx2 fma";

  /** A class path holding exactly these native jars. */
  static Predicate<String> jars(String... classifiers) {
    return Set.of(classifiers)::contains;
  }

  @Test
  void platformNamesAreJavaCppsForEveryJvmSpelling() {
    assertEquals("linux-x86_64", Backend.platform("Linux", "amd64"));
    assertEquals("linux-arm64", Backend.platform("Linux", "aarch64"));
    assertEquals("macosx-arm64", Backend.platform("Mac OS X", "aarch64"));
    assertEquals("macosx-x86_64", Backend.platform("Mac OS X", "x86_64"));
    assertEquals("windows-x86_64", Backend.platform("Windows 11", "amd64"));
    assertEquals("windows-x86_64", Backend.platform("Windows Server 2022", "amd64"));
    assertEquals("windows-arm64", Backend.platform("Windows 11", "aarch64"));
    assertEquals("linux-x86", Backend.platform("Linux", "i686"));
    // this machine: the same name JavaCPP itself computes (its native jars are found by it)
    assertEquals(
        org.bytedeco.javacpp.Loader.getPlatform(),
        Backend.platform(System.getProperty("os.name"), System.getProperty("os.arch")));
  }

  @Test
  void linuxX86PicksOneDnnOnAvx512CpusOnly() {
    Predicate<String> both = jars("linux-x86_64", "linux-x86_64-onednn-avx512");
    Backend.Choice fast = Backend.choose("auto", "linux-x86_64", AVX512_FLAGS, both);
    assertEquals("avx512", fast.variant());
    assertEquals("linux-x86_64-onednn-avx512", fast.classifier());
    assertTrue(fast.isAvx512());
    assertEquals(
        "linux-x86_64-onednn-avx512 (the CPU has AVX-512)", fast.toString(), "as status shows it");

    Backend.Choice avx2 = Backend.choose("auto", "linux-x86_64", AVX2_FLAGS, both);
    assertEquals("generic", avx2.variant());
    assertEquals("linux-x86_64", avx2.classifier());
    assertEquals("the CPU has no AVX-512", avx2.reason());
    // avx512f without avx512bw (Knights Landing) is not enough
    assertEquals(
        "generic", Backend.choose("auto", "linux-x86_64", "avx512f avx512cd", both).variant());
    // no /proc/cpuinfo (flags unknown): the generic build, which runs everywhere
    Backend.Choice unknown = Backend.choose("auto", "linux-x86_64", "", both);
    assertEquals("generic", unknown.variant());
    assertEquals("the CPU's flags are unknown", unknown.reason());
    // a flag must match as a whole word
    assertEquals(
        "generic",
        Backend.choose("auto", "linux-x86_64", "xavx512f avx512bwx", both).variant(),
        "substrings are not flags");
    // a class path built without the oneDNN jar: generic even on an AVX-512 CPU
    Backend.Choice noJar =
        Backend.choose("auto", "linux-x86_64", AVX512_FLAGS, jars("linux-x86_64"));
    assertEquals("generic", noJar.variant());
    assertEquals("the oneDNN build is not on the class path", noJar.reason());
  }

  @Test
  void everyOtherPlatformRunsTheGenericBuildWithoutReadingCpuFlags() {
    for (String p :
        new String[] {"macosx-arm64", "macosx-x86_64", "windows-x86_64", "linux-arm64"}) {
      // even flags that would pick AVX-512 on Linux x86-64 (an Intel Mac has them) change nothing
      Backend.Choice c = Backend.choose("auto", p, AVX512_FLAGS, jars(p));
      assertEquals("generic", c.variant(), p);
      assertEquals(p, c.classifier(), p);
      assertFalse(c.isAvx512(), p);
      assertEquals(p + " (the only build for this platform)", c.toString());
      assertEquals("generic", Backend.choose("generic", p, "", jars(p)).variant());
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> Backend.choose("avx512", p, AVX512_FLAGS, jars(p)));
      assertEquals(
          "system property saelab.native=avx512: the oneDNN AVX-512 build exists for"
              + " linux-x86_64 only, this machine is "
              + p,
          e.getMessage());
    }
  }

  @Test
  void explicitRequestsAndTheirErrors() {
    Predicate<String> both = jars("linux-x86_64", "linux-x86_64-onednn-avx512");
    assertEquals(
        "generic", Backend.choose("GENERIC", "linux-x86_64", AVX512_FLAGS, both).variant());
    assertEquals("avx512", Backend.choose("avx512", "linux-x86_64", AVX2_FLAGS, both).variant());
    IllegalArgumentException missing =
        assertThrows(
            IllegalArgumentException.class,
            () -> Backend.choose("avx512", "linux-x86_64", AVX512_FLAGS, jars("linux-x86_64")));
    assertEquals(
        "system property saelab.native=avx512: ND4J's natives for linux-x86_64-onednn-avx512 are"
            + " not on the class path (org.nd4j:nd4j-native:jar:linux-x86_64-onednn-avx512); build"
            + " SAE Lab on this machine (its platform is picked) or with the Maven profile"
            + " linux-x86_64",
        missing.getMessage());
    IllegalArgumentException bad =
        assertThrows(
            IllegalArgumentException.class,
            () -> Backend.choose("fast", "linux-x86_64", AVX512_FLAGS, both));
    assertEquals(
        "system property saelab.native=fast: expected auto, generic or avx512", bad.getMessage());
  }

  @Test
  void theClassPathCheckSeesTheJarsThisBuildPutThere() {
    String here = org.bytedeco.javacpp.Loader.getPlatform();
    assertTrue(Backend.hasNatives(here), "the build picked this machine's natives: " + here);
    assertFalse(Backend.hasNatives("linux-ppc64le"), "no profile builds for it");
    if (here.equals("linux-x86_64")) {
      // the Linux x86-64 build (CI's) has both of its jars and no other platform's
      assertTrue(Backend.hasNatives("linux-x86_64-onednn-avx512"));
      assertFalse(Backend.hasNatives("macosx-arm64"));
    }
    assertEquals(
        "ND4J's natives for macosx-arm64 are not on the class path"
            + " (org.nd4j:nd4j-native:jar:macosx-arm64); build SAE Lab on this machine (its"
            + " platform is picked) or with the Maven profile macosx-arm64",
        Backend.missingNatives("macosx-arm64"));
  }

  @Test
  void theChoiceInUseIsDescribed() {
    String variant = Backend.init();
    Backend.Choice c = Backend.choice();
    assertEquals(variant, c.variant());
    assertEquals(org.bytedeco.javacpp.Loader.getPlatform(), c.platform());
    assertTrue(Backend.describe().startsWith(c.classifier() + " ("), Backend.describe());
  }
}
