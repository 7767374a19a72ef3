package dev.saelab.linalg;

/**
 * One entry of a head's feature-to-feature table.
 *
 * @param row row feature: the query feature (QK) or the value feature (OV)
 * @param col column feature: the key feature (QK) or the output feature (OV)
 * @param value the circuit value, in the table's scale
 */
public record FeatureEdge(int row, int col, float value) {}
