package dev.saelab.io;

import java.util.Locale;
import java.util.Optional;

/**
 * Element types of the tensor formats SAE Lab reads (safetensors names; NPY descriptors map onto
 * them).
 */
public enum DType {
  BOOL(1, false),
  U8(1, false),
  I8(1, false),
  F8_E5M2(1, false),
  F8_E4M3(1, false),
  I16(2, false),
  U16(2, false),
  F16(2, true),
  BF16(2, true),
  I32(4, false),
  U32(4, false),
  F32(4, true),
  I64(8, false),
  U64(8, false),
  F64(8, true);

  private final int size;
  private final boolean floating;

  DType(int size, boolean floating) {
    this.size = size;
    this.floating = floating;
  }

  /** Bytes per element. */
  public int size() {
    return size;
  }

  /** True for the types SAE Lab converts to float32: F32, F16, BF16, F64. */
  public boolean readableAsFloat() {
    return floating;
  }

  /** Parses a safetensors dtype name ("F32", "BF16", ...). */
  public static Optional<DType> ofSafetensors(String name) {
    try {
      return Optional.of(valueOf(name.toUpperCase(Locale.ROOT)));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /**
   * Parses a little-endian NPY descriptor ({@code <f4 <f2 <f8 <i2 <u2 |u1 ...}); big-endian is not
   * accepted.
   */
  public static Optional<DType> ofNpy(String descr) {
    switch (descr) {
      case "<f4":
        return Optional.of(F32);
      case "<f2":
        return Optional.of(F16);
      case "<f8":
        return Optional.of(F64);
      case "<i2":
        return Optional.of(I16);
      case "<u2":
        return Optional.of(U16);
      case "<i4":
        return Optional.of(I32);
      case "<u4":
        return Optional.of(U32);
      case "<i8":
        return Optional.of(I64);
      case "<u8":
        return Optional.of(U64);
      case "|u1":
        return Optional.of(U8);
      case "|i1":
        return Optional.of(I8);
      case "|b1":
        return Optional.of(BOOL);
      default:
        return Optional.empty();
    }
  }
}
