package dev.saelab.sae;

/**
 * What an SAE file says about itself.
 *
 * @param format "gemma-scope" or "saelens"
 * @param architecture "jumprelu", "standard", "topk", "batchtopk" or "gated"
 * @param dIn width of the stream the SAE reads (d_model for residual SAEs)
 * @param dSae number of features
 * @param hookName TransformerLens hook name, e.g. {@code blocks.12.hook_resid_post}
 * @param layer the layer in the hook name, or -1 if unknown
 * @param applyBDecToInput whether encoding subtracts b_dec first (SAELens; false for Gemma Scope)
 * @param k the k of a top-k SAE, or 0
 * @param neuronpediaId {@code modelId/sourceId} of the SAE's Neuronpedia labels, or null
 * @param centeredStream true if the SAE was trained on TransformerLens's centred residual stream
 *     ({@code center_writing_weights}), as the GPT-2 res-jb SAEs were
 * @param modelName the model the SAE was trained on as the files name it (SAELens {@code
 *     model_name}; Gemma Scope: from a repository folder such as {@code gemma-scope-2b-pt-res} →
 *     {@code gemma-2-2b}), or null
 */
public record SaeConfig(
    String format,
    String architecture,
    long dIn,
    long dSae,
    String hookName,
    int layer,
    boolean applyBDecToInput,
    long k,
    String neuronpediaId,
    boolean centeredStream,
    String modelName) {
  /** A config whose files name no model. */
  public SaeConfig(
      String format,
      String architecture,
      long dIn,
      long dSae,
      String hookName,
      int layer,
      boolean applyBDecToInput,
      long k,
      String neuronpediaId,
      boolean centeredStream) {
    this(
        format,
        architecture,
        dIn,
        dSae,
        hookName,
        layer,
        applyBDecToInput,
        k,
        neuronpediaId,
        centeredStream,
        null);
  }

  /**
   * The attention layer whose input this SAE reads: L for {@code blocks.L.hook_resid_pre}, L + 1
   * for {@code blocks.L.hook_resid_post}; -1 for other hooks or none.
   */
  public int inputOfLayer() {
    if (hookName == null) {
      return -1;
    }
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("blocks\\.(\\d+)\\.hook_resid_(pre|post)")
            .matcher(hookName);
    if (!m.matches()) {
      return -1;
    }
    int l = Integer.parseInt(m.group(1));
    return m.group(2).equals("pre") ? l : l + 1;
  }
}
