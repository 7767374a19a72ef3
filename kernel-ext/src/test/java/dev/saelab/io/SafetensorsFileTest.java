package dev.saelab.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.testutil.TestFiles;
import dev.saelab.testutil.TestFiles.Raw;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

class SafetensorsFileTest {
  @TempDir Path dir;

  private Path write(String name, byte[] bytes) throws IOException {
    Path p = dir.resolve(name);
    Files.write(p, bytes);
    return p;
  }

  @Test
  void readsTheSpecTestVectorByteForByte() throws IOException {
    // safetensors tensor.rs: "attn.0" F32 [1,2,3] values 0..5 -> header length 64, this exact JSON
    String json = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
    byte[] bytes =
        TestFiles.withHeader(json, TestFiles.f32(new long[] {1, 2, 3}, 0, 1, 2, 3, 4, 5).data());
    assertEquals(64, ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong());
    try (SafetensorsFile f = SafetensorsFile.open(write("v.safetensors", bytes))) {
      assertEquals(1, f.tensors().size());
      assertArrayEquals(new long[] {1, 2, 3}, f.info("attn.0").shape());
      assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, f.readFloats("attn.0"));
      INDArray a = f.readArray("attn.0");
      assertArrayEquals(new long[] {1, 2, 3}, a.shape());
      assertEquals(5f, a.getFloat(0, 1, 2));
      assertEquals(8 + 64, f.fileRange("attn.0")[0]);
    }
  }

  @Test
  void emptyAndMetadataOnlyFilesAreLegal() throws IOException {
    byte[] empty = TestFiles.withHeader("{}", new byte[0]);
    assertEquals(16, empty.length);
    try (SafetensorsFile f = SafetensorsFile.open(write("e.safetensors", empty))) {
      assertTrue(f.tensors().isEmpty());
    }
    byte[] meta = TestFiles.withHeader("{\"__metadata__\":{\"framework\":\"pt\"}}", new byte[0]);
    assertEquals(40, ByteBuffer.wrap(meta).order(ByteOrder.LITTLE_ENDIAN).getLong());
    try (SafetensorsFile f = SafetensorsFile.open(write("m.safetensors", meta))) {
      assertEquals(Map.of("framework", "pt"), f.metadata());
    }
  }

  @Test
  void convertsF16Bf16F64ToFloat32Exactly() throws IOException {
    Map<String, Raw> t = new LinkedHashMap<>();
    // BF16 bit patterns: 1.0 = 0x3F80, -2.5 = 0xC020, 0.15625 = 0x3E20
    t.put("bf", new Raw("BF16", new long[] {3}, le16(0x3F80, 0xC020, 0x3E20)));
    // F16: 1.0 = 0x3C00, -0.5 = 0xB800, smallest subnormal 2^-24 = 0x0001, 65504 = 0x7BFF
    t.put("h", new Raw("F16", new long[] {4}, le16(0x3C00, 0xB800, 0x0001, 0x7BFF)));
    ByteBuffer d =
        ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(0.1).putDouble(-3);
    t.put("d", new Raw("F64", new long[] {2}, d.array()));
    t.put("i", new Raw("I64", new long[] {1}, new byte[8]));
    try (SafetensorsFile f =
        SafetensorsFile.open(write("t.safetensors", TestFiles.safetensors(t, null)))) {
      assertArrayEquals(new float[] {1f, -2.5f, 0.15625f}, f.readFloats("bf"));
      assertArrayEquals(new float[] {1f, -0.5f, 0x1p-24f, 65504f}, f.readFloats("h"));
      assertArrayEquals(new float[] {0.1f, -3f}, f.readFloats("d"));
      SaeLabException e = assertThrows(SaeLabException.class, () -> f.readFloats("i"));
      assertTrue(e.getMessage().contains("'i'") && e.getMessage().contains("I64"), e.getMessage());
      assertEquals(4 * 2 + 2 * 3 + 16, f.bytesRead());
    }
  }

  private static byte[] le16(int... v) {
    ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (int x : v) {
      b.putShort((short) x);
    }
    return b.array();
  }

  private void assertBad(byte[] bytes, String... expectedParts) throws IOException {
    Path p = write("bad.safetensors", bytes);
    SaeLabException e = assertThrows(SaeLabException.class, () -> SafetensorsFile.open(p));
    assertTrue(e.getMessage().startsWith(p.toString()), "names the file: " + e.getMessage());
    for (String part : expectedParts) {
      assertTrue(e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
    }
  }

  private static byte[] good() {
    Map<String, Raw> t = new LinkedHashMap<>();
    t.put("a", TestFiles.f32(new long[] {2, 2}, 1, 2, 3, 4));
    t.put("b", TestFiles.f32(new long[] {2}, 5, 6));
    return TestFiles.safetensors(t, null);
  }

  @Test
  void refusesEveryKindOfDamageWithANamedMessage() throws IOException {
    assertBad(new byte[0], "0 bytes", "at least 8");
    byte[] g = good();
    assertBad(Arrays.copyOf(g, g.length - 3), "'b'", "outside the data buffer");
    assertBad(Arrays.copyOf(g, g.length + 4), "cover", "data buffer");
    assertBad(Arrays.copyOf(g, 20), "runs past the end");
    ByteBuffer huge = ByteBuffer.wrap(g.clone()).order(ByteOrder.LITTLE_ENDIAN);
    huge.putLong(0, 1L << 40);
    assertBad(huge.array(), "over the safetensors limit");
    assertBad(TestFiles.withHeader("{\"a\":{\"dtype\":\"F32\",", new byte[0]), "not valid JSON");
    assertBad(TestFiles.withHeader("[1,2]", new byte[0]), "JSON object");
    assertBad(
        TestFiles.withHeader(
            "{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]),
        "'a'",
        "unknown dtype 'F33'");
    assertBad(
        TestFiles.withHeader(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", new byte[4]),
        "'a'",
        "holds 4 bytes",
        "needs 8");
    assertBad(
        TestFiles.withHeader(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}",
            new byte[8]),
        "overlap");
    assertBad(
        TestFiles.withHeader(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]),
        "'a'",
        "without gaps");
    assertBad(
        TestFiles.withHeader(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,400]}}", new byte[4]),
        "'a'",
        "outside the data buffer");
    assertBad(
        TestFiles.withHeader(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", new byte[4]),
        "'a'",
        "non-negative");
    assertBad(
        TestFiles.withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", new byte[4]),
        "'a'",
        "data_offsets");
    byte[] bad = TestFiles.withHeader("{\"\u00e9\":1}", new byte[0]);
    bad[9] = (byte) 0xff; // invalid UTF-8
    assertBad(bad, "UTF-8");
  }

  @Test
  void shardedIndexNamesMissingShardsAndTensors() throws IOException {
    Files.write(dir.resolve("s1.safetensors"), good());
    Path idx = dir.resolve("model.safetensors.index.json");
    Files.writeString(idx, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"c\":\"s2.safetensors\"}}");
    SaeLabException e = assertThrows(SaeLabException.class, () -> ShardedSafetensors.open(idx));
    assertTrue(
        e.getMessage().contains("s2.safetensors") && e.getMessage().contains(idx.toString()),
        e.getMessage());
    Files.writeString(idx, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"zz\":\"s1.safetensors\"}}");
    e = assertThrows(SaeLabException.class, () -> ShardedSafetensors.open(idx));
    assertTrue(e.getMessage().contains("'zz'"), e.getMessage());
    Files.writeString(idx, "{\"weight_map\":{\"a\":\"../s1.safetensors\"}}");
    e = assertThrows(SaeLabException.class, () -> ShardedSafetensors.open(idx));
    assertTrue(e.getMessage().contains("beside the index"), e.getMessage());
    Files.writeString(idx, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\"}}");
    try (ShardedSafetensors s = ShardedSafetensors.open(idx)) {
      assertArrayEquals(new float[] {5, 6}, s.readFloats("b"));
      assertEquals("s1.safetensors", s.shardOf("a"));
    }
  }

  @Test
  void readsTheShippedBf16ShardsAsExactFloat32() {
    Path idx = TestFiles.datasets().resolve("tiny-gemma2/model.safetensors.index.json");
    try (ShardedSafetensors s = ShardedSafetensors.open(idx)) {
      float[] q = s.readFloats("model.layers.1.self_attn.q_proj.weight");
      assertEquals(64 * 48, q.length);
      for (float v : q) {
        assertEquals(
            0, Float.floatToIntBits(v) & 0xffff, "BF16 values have zero low mantissa bits");
      }
      assertEquals(64L * 48 * 2, s.bytesRead());
    }
  }

  @Test
  void headerAloneIsReadOnOpen() throws IOException {
    Path p = write("h.safetensors", good());
    try (SafetensorsFile f = SafetensorsFile.open(p)) {
      assertEquals(0, f.bytesRead());
      f.readFloats("b");
      assertEquals(8, f.bytesRead());
    }
    String text = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
    assertTrue(text.contains("data_offsets"));
  }
}
