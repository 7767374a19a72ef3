/**
 * Real releases by name ({@link dev.saelab.hub.Registry}), Hugging Face downloads into the
 * huggingface_hub cache ({@link dev.saelab.hub.Hub}), partial safetensors reads (one layer of a
 * model, the needed matrices of an SAE), and {@link dev.saelab.hub.Sources}, which turns a path,
 * release name or {@code hf://ORG/REPO[@REV]/PATH} address ({@link dev.saelab.hub.HfPath}) into
 * local files.
 */
package dev.saelab.hub;
