/**
 * Kernel-neutral rendering of the API's objects into MIME bundles: sortable HTML tables, 2× PNG
 * plots (SVG on request), summary cards of models, SAEs and labels ({@link
 * dev.saelab.render.Renderers}).
 */
package dev.saelab.render;
