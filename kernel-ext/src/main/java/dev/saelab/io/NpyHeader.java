package dev.saelab.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The header of a {@code .npy} array (format versions 1, 2 and 3): magic {@code \x93NUMPY},
 * version, header length (u16 in v1, u32 in v2/v3), then a Python dict literal {@code {'descr':
 * '<f4', 'fortran_order': False, 'shape': (2304, 16384), }}. Fortran order is refused: it would
 * need a transpose that ND4J's own reader silently skips.
 *
 * @param info the array's name, dtype and shape
 * @param headerBytes bytes before the data (magic, version, length field and dict)
 */
public record NpyHeader(TensorInfo info, long headerBytes) {
  /** Header dicts longer than this are refused (real ones are under 200 bytes). */
  public static final int MAX_HEADER = 1 << 20;

  private static final Pattern DESCR =
      Pattern.compile("['\"]descr['\"]\\s*:\\s*['\"]([^'\"]*)['\"]");
  private static final Pattern FORTRAN =
      Pattern.compile("['\"]fortran_order['\"]\\s*:\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("['\"]shape['\"]\\s*:\\s*\\(([^)]*)\\)");

  /**
   * Reads and validates a header from the stream's start; {@code where} names the file (and member)
   * in errors.
   */
  public static NpyHeader read(InputStream in, Path file, String name) throws IOException {
    byte[] pre = in.readNBytes(8);
    if (pre.length < 8
        || (pre[0] & 0xff) != 0x93
        || pre[1] != 'N'
        || pre[2] != 'U'
        || pre[3] != 'M'
        || pre[4] != 'P'
        || pre[5] != 'Y') {
      throw SaeLabException.inTensor(file, name, "not an NPY array: missing the \\x93NUMPY magic");
    }
    int major = pre[6] & 0xff;
    long len;
    int lenBytes;
    if (major == 1) {
      byte[] b = in.readNBytes(2);
      if (b.length < 2) {
        throw SaeLabException.inTensor(file, name, "NPY header truncated");
      }
      len = (b[0] & 0xff) | ((b[1] & 0xff) << 8);
      lenBytes = 2;
    } else if (major == 2 || major == 3) {
      byte[] b = in.readNBytes(4);
      if (b.length < 4) {
        throw SaeLabException.inTensor(file, name, "NPY header truncated");
      }
      len =
          (b[0] & 0xffL) | ((b[1] & 0xffL) << 8) | ((b[2] & 0xffL) << 16) | ((b[3] & 0xffL) << 24);
      lenBytes = 4;
    } else {
      throw SaeLabException.inTensor(
          file,
          name,
          "NPY format version "
              + major
              + "."
              + (pre[7] & 0xff)
              + " is not supported (expected 1, 2 or 3)");
    }
    if (len > MAX_HEADER) {
      throw SaeLabException.inTensor(
          file, name, "NPY header length " + len + " is over the limit of " + MAX_HEADER);
    }
    byte[] dict = in.readNBytes((int) len);
    if (dict.length < len) {
      throw SaeLabException.inTensor(
          file, name, "NPY header truncated: " + dict.length + " of " + len + " bytes");
    }
    String text =
        new String(dict, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
    return new NpyHeader(parseDict(text, file, name), 8 + lenBytes + len);
  }

  static TensorInfo parseDict(String text, Path file, String name) {
    Matcher d = DESCR.matcher(text);
    Matcher f = FORTRAN.matcher(text);
    Matcher s = SHAPE.matcher(text);
    if (!d.find() || !f.find() || !s.find()) {
      throw SaeLabException.inTensor(
          file,
          name,
          "NPY header must have 'descr', 'fortran_order' and 'shape', got "
              + abbreviate(text.strip()));
    }
    DType dtype =
        DType.ofNpy(d.group(1))
            .orElseThrow(
                () ->
                    SaeLabException.inTensor(
                        file,
                        name,
                        "NPY dtype '"
                            + d.group(1)
                            + "' is not supported (expected little-endian <f4, <f2, <f8 or <i2)"));
    if (f.group(1).equals("True")) {
      throw SaeLabException.inTensor(
          file,
          name,
          "array is stored in Fortran order; SAE Lab reads C order only "
              + "(save it with np.ascontiguousarray)");
    }
    List<Long> dims = new ArrayList<>();
    for (String part : s.group(1).split(",")) {
      String p = part.strip();
      if (p.isEmpty()) {
        continue;
      }
      if (p.endsWith("L")) {
        p = p.substring(0, p.length() - 1);
      }
      try {
        long v = Long.parseLong(p);
        if (v < 0) {
          throw new NumberFormatException();
        }
        dims.add(v);
      } catch (NumberFormatException e) {
        throw SaeLabException.inTensor(
            file,
            name,
            "NPY shape (" + abbreviate(s.group(1)) + ") must hold non-negative integers");
      }
    }
    long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
    TensorInfo info = new TensorInfo(name, dtype, shape);
    try {
      info.byteSize();
    } catch (ArithmeticException e) {
      throw SaeLabException.inTensor(file, name, "NPY shape " + info.shapeString() + " overflows");
    }
    return info;
  }

  private static String abbreviate(String s) {
    return s.length() > 120 ? s.substring(0, 120) + "..." : s;
  }
}
