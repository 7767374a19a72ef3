/**
 * Transformer weights in TransformerLens layout: {@link dev.saelab.model.ModelConfig} (d_model,
 * n_heads, n_kv_heads, d_head, norms, RoPE), {@link dev.saelab.model.ModelWeights} (a Hugging Face
 * folder, layers read lazily) and one layer's {@link dev.saelab.model.AttentionWeights} (W_Q, W_K,
 * W_V, W_O, biases, norms).
 */
package dev.saelab.model;
