/**
 * Whole-model atlases: every layer × head × circuit table of a model, each feature's strongest
 * partners per head, and head-level summaries, computed as independent work units ({@link
 * dev.saelab.atlas.WorkUnit}) by the single-machine engine and merged exactly ({@link
 * dev.saelab.atlas.UnitMerge}), so a unit can run anywhere: in this JVM ({@link
 * dev.saelab.atlas.LocalAtlasEngine}), in shards on several machines, or on a cluster engine found
 * through {@link dev.saelab.atlas.AtlasEngine}. See kernel-ext/docs/architecture.md.
 */
package dev.saelab.atlas;
