/**
 * rapaio-jupyter-kernel 3.0.1: display through its DisplayProvider SPI (it has no magic API; magic
 * lines are rewritten to Java calls).
 */
package dev.saelab.kernel.rapaio;
