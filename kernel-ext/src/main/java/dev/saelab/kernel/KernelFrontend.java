package dev.saelab.kernel;

import dev.saelab.api.Frontend;
import dev.saelab.magic.SaeLabMagics;

/** The {@link Frontend} service: the kernel adapters and the shared magic engine. */
public final class KernelFrontend implements Frontend {
  /** For {@link java.util.ServiceLoader}. */
  public KernelFrontend() {}

  @Override
  public String install() {
    return Kernels.install();
  }

  @Override
  public Object magic(String line) {
    return SaeLabMagics.shared().line(line);
  }

  @Override
  public String help() {
    return SaeLabMagics.help("saelab");
  }
}
