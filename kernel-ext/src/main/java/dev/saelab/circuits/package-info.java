/**
 * The circuits of one attention layer between SAE features: folding and projecting ({@link
 * dev.saelab.circuits.HeadProjections}, {@link dev.saelab.circuits.FeatureCircuits}), per-head
 * QK/OV tables ({@link dev.saelab.circuits.CircuitTable}), tables summed over heads, RoPE at a
 * distance and positional profiles, head SVD, the QK-OV scatter, CSV writers. See kernel-
 * ext/docs/math.md.
 */
package dev.saelab.circuits;
