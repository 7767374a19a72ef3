package dev.saelab.kernel;

/**
 * Connects SAE Lab to one Jupyter kernel: renderers, magics (where the kernel allows them) and the
 * display sink for progress bars. Implementations live in sub-packages and are the only classes
 * that import a kernel's API; they are instantiated reflectively, only when that kernel's classes
 * are present.
 */
public interface KernelAdapter {
  /** "jjava", "ijava" or "rapaio". */
  String name();

  /**
   * Installs into the running kernel; returns false when no such kernel runs in this JVM.
   * Idempotent.
   */
  boolean installIntoRunningKernel();
}
