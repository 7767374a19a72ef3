/**
 * A forward pass in float32 over the weights as the readers give them, computing what Hugging Face
 * transformers computes for GPT-2, Gemma 2, Gemma 3, Qwen3, Llama (and Qwen2, Mistral), with the
 * activations recorded under TransformerLens hook names ({@link dev.saelab.forward.ForwardPass},
 * {@link dev.saelab.forward.Hook}, {@link dev.saelab.forward.Activations}). The conventions and the
 * hooks' shapes: kernel-ext/docs/guide-cli.md (forward passes).
 */
package dev.saelab.forward;
