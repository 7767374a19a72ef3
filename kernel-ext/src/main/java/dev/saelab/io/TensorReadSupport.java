package dev.saelab.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.stream.Collectors;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Conversions shared by the readers: stored little-endian bytes to float32, and float chunks to
 * arrays.
 */
public final class TensorReadSupport {
  /** Elements converted per chunk. */
  static final int CHUNK = 1 << 20;

  private TensorReadSupport() {}

  static String names(List<TensorInfo> tensors) {
    if (tensors.isEmpty()) {
      return "no tensors";
    }
    String s = tensors.stream().limit(12).map(TensorInfo::name).collect(Collectors.joining(", "));
    return tensors.size() > 12 ? s + ", ... (" + tensors.size() + " in all)" : s;
  }

  /**
   * Converts {@code count} elements of {@code type} from {@code src} (little-endian, at its
   * position).
   */
  static void convert(ByteBuffer src, DType type, float[] dst, int count) {
    src.order(ByteOrder.LITTLE_ENDIAN);
    switch (type) {
      case F32:
        src.asFloatBuffer().get(dst, 0, count);
        src.position(src.position() + 4 * count);
        break;
      case F64:
        for (int i = 0; i < count; i++) {
          dst[i] = (float) src.getDouble();
        }
        break;
      case BF16:
        for (int i = 0; i < count; i++) {
          dst[i] = bf16ToFloat(src.getShort());
        }
        break;
      case F16:
        for (int i = 0; i < count; i++) {
          dst[i] = f16ToFloat(src.getShort());
        }
        break;
      default:
        throw new IllegalArgumentException("not a float type: " + type);
    }
  }

  /** bfloat16 bit pattern to float32 (exact). */
  public static float bf16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  /** IEEE half bit pattern to float32 (exact; subnormals, infinities and NaN included). */
  public static float f16ToFloat(short h) {
    int bits = h & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      if (mant == 0) {
        return Float.intBitsToFloat(sign);
      }
      float v = mant * 0x1p-24f; // subnormal: mant * 2^-24
      return sign == 0 ? v : -v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  static void requireFloat(TensorSource src, TensorInfo t) {
    if (!t.dtype().readableAsFloat()) {
      throw SaeLabException.inTensor(
          src.path(),
          t.name(),
          "dtype "
              + t.dtype()
              + " is not a floating-point type; SAE Lab reads F32, F16, BF16 and F64");
    }
  }

  static INDArray toArray(TensorSource src, TensorInfo t) {
    Backend.init();
    long[] shape = t.shape();
    if (t.numel() == 0) {
      return Nd4j.create(DataType.FLOAT, shape);
    }
    INDArray out =
        shape.length == 0 ? Nd4j.scalar(0f) : Nd4j.createUninitialized(DataType.FLOAT, shape, 'c');
    FloatPointer dst = new FloatPointer(out.data().addressPointer());
    src.read(t.name(), (offset, values, count) -> dst.position(offset).put(values, 0, count));
    return out;
  }

  static float[] toFloats(TensorSource src, TensorInfo t) {
    if (t.numel() > Integer.MAX_VALUE - 8) {
      throw SaeLabException.inTensor(
          src.path(),
          t.name(),
          t.numel() + " elements do not fit a Java array; " + "use readArray");
    }
    float[] out = new float[(int) t.numel()];
    src.read(
        t.name(), (offset, values, count) -> System.arraycopy(values, 0, out, (int) offset, count));
    return out;
  }
}
