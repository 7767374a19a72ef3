/**
 * The Jupyter kernels: adapters for JJava, IJava and rapaio (sub-packages, the only code that
 * imports a kernel's API), the display sink and progress bar, and the {@link
 * dev.saelab.api.Frontend} service through which {@code SaeLab.init()} reaches them.
 */
package dev.saelab.kernel;
