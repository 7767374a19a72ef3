package dev.saelab.cli;

import dev.saelab.model.ModelWeights;

/**
 * A whole-model command that is also a magic ({@code %composition}): on the command line it opens
 * {@code --model}; in a notebook it runs on the session's model (or {@code --model}) and returns
 * what the Java API returns. Unlike {@link Shared} it needs no layer.
 */
public interface ModelShared {
  /** The {@code --model} given, or null (a magic then uses the session's model). */
  String model();

  /** Opens the model {@code --model} names (the caller closes it). */
  ModelWeights openModel();

  /**
   * What the magic returns, on {@code model}; {@code session}: what the notebook has loaded (its
   * SAEs and labels are used when no flag names one).
   */
  Object result(ModelWeights model, ForwardShared.Session session) throws Exception;
}
