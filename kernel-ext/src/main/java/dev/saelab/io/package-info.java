/**
 * Reading files defensively: safetensors (single and sharded), NPY/NPZ, JSON; the one user-facing
 * error type {@link dev.saelab.io.SaeLabException}; the ND4J native backend choice ({@link
 * dev.saelab.io.Backend}); atomic writes that honour the umask. The lowest layer: imports nothing
 * of SAE Lab.
 */
package dev.saelab.io;
