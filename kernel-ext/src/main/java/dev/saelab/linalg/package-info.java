/**
 * The exact top-k of a factored product L·Rᵀ without materialising it ({@link
 * dev.saelab.linalg.FactoredProduct}): rows sorted by norm, tiles screened by an int8 or float32
 * GEMM, candidates rescored exactly in double. Knows nothing of models or SAEs. See kernel-
 * ext/docs/math.md §14.
 */
package dev.saelab.linalg;
