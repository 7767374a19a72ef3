/**
 * Everything a notebook user touches, with one import ({@code import dev.saelab.api.*;}): {@link
 * dev.saelab.api.SaeLab} (load models, SAEs, labels; run magics), {@link
 * dev.saelab.api.CircuitQuery} (the fluent, typed query), {@link dev.saelab.api.FeatureTable},
 * {@link dev.saelab.api.Analysis} and {@link dev.saelab.api.Plot}.
 */
package dev.saelab.api;
