/**
 * Neuronpedia feature labels (old JSON and bulk jsonl.gz exports) and {@link
 * dev.saelab.labels.LabelMatch}, which refuses labels that belong to another dictionary.
 */
package dev.saelab.labels;
