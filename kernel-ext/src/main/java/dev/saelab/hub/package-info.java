/**
 * Real releases by name ({@link dev.saelab.hub.Registry}), Hugging Face downloads into the
 * huggingface_hub cache ({@link dev.saelab.hub.Hub}), partial safetensors reads of one layer, and
 * {@link dev.saelab.hub.Sources}, which turns a path, release name or hf:// address into local
 * files.
 */
package dev.saelab.hub;
