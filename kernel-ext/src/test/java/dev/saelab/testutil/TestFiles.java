package dev.saelab.testutil;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Test-only writers for safetensors, NPY and NPZ, following each spec, plus the shared/ and
 * datasets/ folders.
 */
public final class TestFiles {
  private TestFiles() {}

  /** The repository's datasets/ folder. */
  public static Path datasets() {
    return Path.of(System.getProperty("saelab.datasets.dir", "../datasets"));
  }

  /** The read-only shared/ folder beside the repository. */
  public static Path shared() {
    return Path.of(System.getProperty("saelab.shared.dir", "../../shared"));
  }

  /**
   * A file or folder under {@link #shared()}: data from outside the repository, absent beside a
   * fresh clone. When it is absent the calling test is skipped (a JUnit assumption) with a message
   * naming it.
   */
  public static Path sharedFile(String relative) {
    Path p = shared().resolve(relative);
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Files.exists(p),
        () ->
            "needs "
                + p.toAbsolutePath().normalize()
                + ", which is absent (data from outside the repository; -Dsaelab.shared.dir=DIR"
                + " names the shared/ folder)");
    return p;
  }

  /** A tensor to write: dtype name, shape, raw little-endian bytes. */
  public record Raw(String dtype, long[] shape, byte[] data) {}

  /** float32 values as a raw F32 tensor. */
  public static Raw f32(long[] shape, float... v) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) {
      b.putFloat(x);
    }
    return new Raw("F32", shape, b.array());
  }

  /** Builds safetensors bytes (sorted by insertion, contiguous, header space-padded to 8). */
  public static byte[] safetensors(Map<String, Raw> tensors, Map<String, String> metadata) {
    StringBuilder h = new StringBuilder("{");
    long off = 0;
    boolean first = true;
    if (metadata != null) {
      h.append("\"__metadata__\":{");
      h.append(
          String.join(
              ",",
              metadata.entrySet().stream()
                  .map(e -> "\"" + e.getKey() + "\":\"" + e.getValue() + "\"")
                  .toList()));
      h.append("}");
      first = false;
    }
    ByteArrayOutputStream data = new ByteArrayOutputStream();
    for (var e : tensors.entrySet()) {
      Raw r = e.getValue();
      if (!first) {
        h.append(",");
      }
      first = false;
      h.append("\"")
          .append(e.getKey())
          .append("\":{\"dtype\":\"")
          .append(r.dtype())
          .append("\",\"shape\":")
          .append(Arrays.toString(r.shape()).replace(" ", ""))
          .append(",\"data_offsets\":[")
          .append(off)
          .append(",")
          .append(off + r.data().length)
          .append("]}");
      off += r.data().length;
      data.writeBytes(r.data());
    }
    h.append("}");
    return withHeader(h.toString(), data.toByteArray());
  }

  /** 8-byte length + header (space-padded to a multiple of 8) + data. */
  public static byte[] withHeader(String header, byte[] data) {
    byte[] hb = header.getBytes(StandardCharsets.UTF_8);
    int pad = (8 - hb.length % 8) % 8;
    ByteBuffer b =
        ByteBuffer.allocate(8 + hb.length + pad + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(hb.length + pad).put(hb);
    for (int i = 0; i < pad; i++) {
      b.put((byte) ' ');
    }
    b.put(data);
    return b.array();
  }

  /** NPY bytes (version 1 or 2) for a float32 C-order array, or with any header dict given. */
  public static byte[] npy(int version, String descr, boolean fortran, long[] shape, byte[] data) {
    String shp =
        shape.length == 1
            ? "(" + shape[0] + ",)"
            : Arrays.toString(shape).replace('[', '(').replace(']', ')');
    String dict =
        "{'descr': '"
            + descr
            + "', 'fortran_order': "
            + (fortran ? "True" : "False")
            + ", 'shape': "
            + shp
            + ", }";
    int pre = version == 1 ? 10 : 12;
    int total = pre + dict.length() + 1;
    int pad = (64 - total % 64) % 64;
    String padded = dict + " ".repeat(pad) + "\n";
    ByteBuffer b =
        ByteBuffer.allocate(pre + padded.length() + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put((byte) 0x93)
        .put("NUMPY".getBytes(StandardCharsets.US_ASCII))
        .put((byte) version)
        .put((byte) 0);
    if (version == 1) {
      b.putShort((short) padded.length());
    } else {
      b.putInt(padded.length());
    }
    b.put(padded.getBytes(StandardCharsets.ISO_8859_1)).put(data);
    return b.array();
  }

  /** float32 NPY v1. */
  public static byte[] npyF32(long[] shape, float... v) {
    return npy(1, "<f4", false, shape, f32(shape, v).data());
  }

  /** Writes an npz with the given members (name without .npy → npy bytes), STORED or DEFLATED. */
  public static void npz(Path file, Map<String, byte[]> members, boolean deflate)
      throws IOException {
    try (OutputStream os = Files.newOutputStream(file);
        ZipOutputStream z = new ZipOutputStream(os)) {
      for (var e : members.entrySet()) {
        ZipEntry ze = new ZipEntry(e.getKey() + ".npy");
        if (!deflate) {
          ze.setMethod(ZipEntry.STORED);
          ze.setSize(e.getValue().length);
          CRC32 crc = new CRC32();
          crc.update(e.getValue());
          ze.setCrc(crc.getValue());
        }
        z.putNextEntry(ze);
        z.write(e.getValue());
        z.closeEntry();
      }
    }
  }

  /** A tiny SAE's tensors, Gemma Scope names, deterministic values. */
  public static Map<String, byte[]> tinySaeMembers(int dIn, int dSae, boolean lowercase) {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put(lowercase ? "w_enc" : "W_enc", npyF32(new long[] {dIn, dSae}, seq(dIn * dSae, 0.01f)));
    m.put(lowercase ? "w_dec" : "W_dec", npyF32(new long[] {dSae, dIn}, seq(dIn * dSae, -0.02f)));
    m.put("b_enc", npyF32(new long[] {dSae}, seq(dSae, 0.1f)));
    m.put("b_dec", npyF32(new long[] {dIn}, seq(dIn, 0.2f)));
    m.put("threshold", npyF32(new long[] {dSae}, seq(dSae, 0.05f)));
    return m;
  }

  /**
   * A standard SAELens SAE folder whose cfg.json names no model, hook or Neuronpedia id; returns
   * {@code dir}.
   */
  public static Path anonymousSaeLens(Path dir, int dIn, int dSae) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(
        dir.resolve("cfg.json"),
        "{\"d_in\": " + dIn + ", \"d_sae\": " + dSae + ", \"architecture\": \"standard\"}");
    Map<String, Raw> t = new LinkedHashMap<>();
    t.put("W_enc", f32(new long[] {dIn, dSae}, seq(dIn * dSae, 0.01f)));
    t.put("W_dec", f32(new long[] {dSae, dIn}, seq(dIn * dSae, 0.02f)));
    t.put("b_enc", f32(new long[] {dSae}, seq(dSae, 0.1f)));
    t.put("b_dec", f32(new long[] {dIn}, seq(dIn, 0.2f)));
    Files.write(dir.resolve("sae_weights.safetensors"), safetensors(t, null));
    return dir;
  }

  /** {@code 0, step, 2 step, ...}. */
  public static float[] seq(int n, float step) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = i * step;
    }
    return v;
  }
}
