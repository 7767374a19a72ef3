package dev.saelab.atlas;

import dev.saelab.circuits.CircuitKind;
import java.io.Serializable;

/**
 * One independent piece of an atlas: a block of rows {@code [rowStart, rowEnd)} of one head's QK or
 * OV product ({@link Part#TABLE}: its top-k and its features' partners), or one layer's summed
 * circuit ({@link Part#SUM}) or singular spectra ({@link Part#SPECTRA}) for one circuit.
 *
 * @param part what the unit computes
 * @param layer the attention layer
 * @param head the query head (−1 for the per-layer parts)
 * @param circuit QK or OV
 * @param rowStart first row feature (query or value feature) of the block
 * @param rowEnd one past the last row feature
 */
public record WorkUnit(
    WorkUnit.Part part, int layer, int head, CircuitKind circuit, int rowStart, int rowEnd)
    implements Serializable {

  private static final long serialVersionUID = 1L;

  /** What a unit computes. */
  public enum Part {
    /** A row block of one head's table, and its partners. */
    TABLE,
    /** The layer's circuit summed over heads. */
    SUM,
    /** The singular values of every head's circuit. */
    SPECTRA
  }

  /** Checks the ranges. */
  public WorkUnit {
    if (part == null || circuit == null) {
      throw new IllegalArgumentException("work unit: expected a part and a circuit");
    }
    if (layer < 0 || (part == Part.TABLE && head < 0) || rowStart < 0 || rowEnd < rowStart) {
      throw new IllegalArgumentException(
          "work unit L"
              + layer
              + " H"
              + head
              + " rows "
              + rowStart
              + ".."
              + rowEnd
              + ": bad range");
    }
  }

  /**
   * A stable id, usable as a file name: {@code L1-H3-qk-r0-4096}, {@code L1-sum-qk}, {@code
   * L1-spectra-ov}.
   */
  public String id() {
    return switch (part) {
      case TABLE -> partitionKey() + "-r" + rowStart + "-" + rowEnd;
      case SUM -> "L" + layer + "-sum-" + circuit.id();
      case SPECTRA -> "L" + layer + "-spectra-" + circuit.id();
    };
  }

  /**
   * The key of the output partition this unit contributes to: {@code L1-H3-qk} for a table block
   * (every block of the head's product shares it), else the unit's id.
   */
  public String partitionKey() {
    return part == Part.TABLE ? "L" + layer + "-H" + head + "-" + circuit.id() : id();
  }

  /** Rows in the block. */
  public int rows() {
    return rowEnd - rowStart;
  }

  @Override
  public String toString() {
    return id();
  }
}
