/**
 * Sparse-autoencoder dictionaries: Gemma Scope and SAELens formats ({@link
 * dev.saelab.sae.SaeLoader}), their config ({@link dev.saelab.sae.SaeConfig}) and weights W_enc,
 * W_dec, b_enc, b_dec, threshold ({@link dev.saelab.sae.SaeDictionary}).
 */
package dev.saelab.sae;
