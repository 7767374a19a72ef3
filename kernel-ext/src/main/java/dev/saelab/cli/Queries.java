package dev.saelab.cli;

import dev.saelab.api.CircuitQuery;

/**
 * The Java query on a {@link Layer}: the same SAEs, labels and label checks as the command line's.
 */
final class Queries {
  private Queries() {}

  static CircuitQuery of(Layer l, java.util.function.Consumer<String> warnings) {
    return new CircuitQuery(l.model(), l.layer())
        .saeIn(l.saeIn())
        .saeKey(l.saeKey())
        .saeOut(l.saeOut())
        .labelsIn(l.labelsIn())
        .labelsKey(l.labelsKey())
        .labelsOut(l.labelsOut())
        .warnings(warnings);
  }
}
