package dev.saelab.labels;

/**
 * One Neuronpedia explanation of one feature.
 *
 * @param index feature index
 * @param description the label text, leading/trailing spaces stripped
 * @param explainer the explanation model ({@code autoInterpModel} or {@code explanationModelName}),
 *     or ""
 * @param typeName explanation type ({@code oai_token-act-pair}, ...) or ""
 * @param createdAt ISO timestamp if the export has one, else ""
 * @param rawDescription the label text exactly as exported (Bostock's CSVs keep the leading space)
 */
public record Explanation(
    int index,
    String description,
    String explainer,
    String typeName,
    String createdAt,
    String rawDescription) {}
