/**
 * The circuits of one attention layer between SAE features: folding and projecting ({@link
 * dev.saelab.circuits.HeadProjections}, {@link dev.saelab.circuits.FeatureCircuits}), per-head
 * QK/OV tables ({@link dev.saelab.circuits.CircuitTable}), tables summed over heads, RoPE at a
 * distance and positional profiles, head SVD, the QK-OV scatter, CSV writers; on a prompt: a head's
 * score over its singular directions ({@link dev.saelab.circuits.PromptSvd}), the residual by
 * writer ({@link dev.saelab.circuits.ResidualSplit}) and head-to-head paths ({@link
 * dev.saelab.circuits.HeadPaths}, {@link dev.saelab.circuits.PathTrace}). See kernel-
 * ext/docs/math.md.
 */
package dev.saelab.circuits;
