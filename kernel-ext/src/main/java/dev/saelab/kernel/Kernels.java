package dev.saelab.kernel;

import java.util.List;

/**
 * Picks the adapter of the kernel this JVM runs, by class presence; the other kernels' classes are
 * never linked.
 */
public final class Kernels {
  /** (kernel marker class, adapter class) in order of preference. */
  private static final List<String[]> ADAPTERS =
      List.of(
          new String[] {
            "org.dflib.jjava.jupyter.kernel.BaseKernel", "dev.saelab.kernel.jjava.JJavaAdapter"
          },
          new String[] {
            "io.github.spencerpark.ijava.IJava", "dev.saelab.kernel.ijava.IJavaAdapter"
          },
          new String[] {
            "org.rapaio.jupyter.kernel.MainApp", "dev.saelab.kernel.rapaio.RapaioAdapter"
          });

  private Kernels() {}

  /**
   * Installs the adapter of the running kernel; returns its name, or "none" outside a known kernel.
   */
  public static synchronized String install() {
    for (String[] a : ADAPTERS) {
      if (!present(a[0])) {
        continue;
      }
      try {
        KernelAdapter adapter =
            (KernelAdapter) Class.forName(a[1]).getDeclaredConstructor().newInstance();
        if (adapter.installIntoRunningKernel()) {
          return adapter.name();
        }
      } catch (ReflectiveOperationException | LinkageError e) {
        // that kernel's API is not the version we were built against: try the next one
      }
    }
    return "none";
  }

  static boolean present(String cls) {
    try {
      Class.forName(cls, false, Kernels.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }
}
