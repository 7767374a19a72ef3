package dev.saelab.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpzFileTest {
  @TempDir Path dir;

  @Test
  void readsStoredAndDeflatedMembersAndNpyVersions() throws IOException {
    for (boolean deflate : new boolean[] {false, true}) {
      Map<String, byte[]> m = new LinkedHashMap<>();
      m.put("a", TestFiles.npyF32(new long[] {2, 3}, 1, 2, 3, 4, 5, 6));
      m.put(
          "b",
          TestFiles.npy(
              2, "<f4", false, new long[] {2}, TestFiles.f32(new long[] {2}, 7, 8).data()));
      ByteBuffer d =
          ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(0.25).putDouble(-1);
      m.put("c", TestFiles.npy(1, "<f8", false, new long[] {2}, d.array()));
      m.put("h", TestFiles.npy(1, "<f2", false, new long[] {1}, new byte[] {0x00, 0x3C}));
      Path p = dir.resolve("x" + deflate + ".npz");
      TestFiles.npz(p, m, deflate);
      try (NpzFile f = NpzFile.open(p)) {
        assertEquals(4, f.tensors().size());
        assertEquals(!deflate, f.isStored("a"));
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, f.readFloats("a"));
        assertEquals(6f, f.readArray("a").getFloat(1, 2));
        assertArrayEquals(new float[] {7, 8}, f.readFloats("b"));
        assertArrayEquals(new float[] {0.25f, -1f}, f.readFloats("c"));
        assertArrayEquals(new float[] {1f}, f.readFloats("h"));
      }
    }
  }

  @Test
  void readingOneArrayDoesNotReadTheOthers() throws IOException {
    Map<String, byte[]> m = TestFiles.tinySaeMembers(4, 8, false);
    Path p = dir.resolve("p.npz");
    TestFiles.npz(p, m, true);
    try (NpzFile f = NpzFile.open(p)) {
      f.readFloats("b_dec");
      assertEquals(4 * 4, f.bytesRead());
    }
  }

  @Test
  void refusesFortranOrderWithAClearMessage() throws IOException {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("W_dec", TestFiles.npy(1, "<f4", true, new long[] {2, 2}, new byte[16]));
    Path p = dir.resolve("f.npz");
    TestFiles.npz(p, m, false);
    SaeLabException e = assertThrows(SaeLabException.class, () -> NpzFile.open(p));
    assertTrue(
        e.getMessage().contains(p.toString())
            && e.getMessage().contains("'W_dec'")
            && e.getMessage().contains("Fortran order"),
        e.getMessage());
  }

  @Test
  void refusesDamagedArchivesAndMembers() throws IOException {
    Path empty = dir.resolve("empty.npz");
    Files.write(empty, new byte[0]);
    assertTrue(
        assertThrows(SaeLabException.class, () -> NpzFile.open(empty))
            .getMessage()
            .contains("not a valid npz"));

    Map<String, byte[]> m = new LinkedHashMap<>();
    byte[] full = TestFiles.npyF32(new long[] {4}, 1, 2, 3, 4);
    m.put("short", Arrays.copyOf(full, full.length - 4));
    Path p = dir.resolve("short.npz");
    TestFiles.npz(p, m, false);
    SaeLabException e = assertThrows(SaeLabException.class, () -> NpzFile.open(p));
    assertTrue(
        e.getMessage().contains("'short'") && e.getMessage().contains("needs"), e.getMessage());

    m.clear();
    m.put("big", TestFiles.npy(1, ">f4", false, new long[] {1}, new byte[4]));
    Path p2 = dir.resolve("be.npz");
    TestFiles.npz(p2, m, false);
    e = assertThrows(SaeLabException.class, () -> NpzFile.open(p2));
    assertTrue(
        e.getMessage().contains("'>f4'") && e.getMessage().contains("little-endian"),
        e.getMessage());

    m.clear();
    m.put("junk", "hello world, not numpy".getBytes());
    Path p3 = dir.resolve("junk.npz");
    TestFiles.npz(p3, m, true);
    e = assertThrows(SaeLabException.class, () -> NpzFile.open(p3));
    assertTrue(e.getMessage().contains("magic"), e.getMessage());

    byte[] zip = Files.readAllBytes(dir.resolve("short.npz"));
    Path p4 = dir.resolve("trunc.npz");
    Files.write(p4, Arrays.copyOf(zip, zip.length / 2));
    e = assertThrows(SaeLabException.class, () -> NpzFile.open(p4));
    assertTrue(e.getMessage().startsWith(p4.toString()), e.getMessage());
  }

  @Test
  void singleNpyFilesToo() throws IOException {
    Path p = dir.resolve("arr.npy");
    Files.write(p, TestFiles.npyF32(new long[] {3}, 1, 2, 3));
    try (NpyFile f = NpyFile.open(p)) {
      assertEquals("arr", f.tensors().get(0).name());
      assertArrayEquals(new float[] {1, 2, 3}, f.readFloats("arr"));
    }
    Files.write(p, Arrays.copyOf(TestFiles.npyF32(new long[] {3}, 1, 2, 3), 70));
    assertThrows(SaeLabException.class, () -> NpyFile.open(p));
    assertFalse(Files.size(p) == 0);
  }
}
