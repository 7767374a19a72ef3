package dev.saelab.io;

import static org.junit.jupiter.api.Assertions.fail;

import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bounded mutation fuzzing of the safetensors, NPY and NPZ parsers: starting from valid files, flip
 * bytes, overwrite length fields with extreme values, truncate and splice; every outcome must be a
 * clean read or a {@link SaeLabException} (never an ND4J, NIO, zip or Jackson exception, an OOM or
 * a hang). Seeded, so a failure reproduces; the iteration count is set with {@code
 * -Dsaelab.fuzz.iterations}.
 */
class ParserFuzzTest {
  private static final int ITERATIONS = Integer.getInteger("saelab.fuzz.iterations", 1500);
  @TempDir Path dir;

  @Test
  void safetensorsParserOnlyFailsCleanly() throws IOException {
    Map<String, TestFiles.Raw> t = new LinkedHashMap<>();
    t.put("w", TestFiles.f32(new long[] {2, 3}, 1, 2, 3, 4, 5, 6));
    t.put("b", new TestFiles.Raw("BF16", new long[] {2}, new byte[] {(byte) 0x80, 0x3f, 0, 0x40}));
    fuzz(TestFiles.safetensors(t, Map.of("format", "pt")), "f.safetensors", SafetensorsFile::open);
  }

  @Test
  void npyParserOnlyFailsCleanly() throws IOException {
    fuzz(TestFiles.npyF32(new long[] {2, 2}, 1, 2, 3, 4), "f.npy", NpyFile::open);
  }

  @Test
  void npzParserOnlyFailsCleanly() throws IOException {
    for (boolean deflate : new boolean[] {false, true}) {
      Path seed = dir.resolve("seed.npz");
      TestFiles.npz(seed, TestFiles.tinySaeMembers(3, 4, false), deflate);
      fuzz(Files.readAllBytes(seed), "f.npz", NpzFile::open);
    }
  }

  private void fuzz(byte[] seed, String name, Function<Path, TensorSource> opener)
      throws IOException {
    Random rnd = new Random(345);
    Path p = dir.resolve(name);
    for (int it = 0; it < ITERATIONS; it++) {
      byte[] b = mutate(seed, rnd);
      Files.write(p, b);
      try (TensorSource s = opener.apply(p)) {
        for (TensorInfo t : s.tensors()) {
          if (t.dtype().readableAsFloat() && t.numel() < 1_000_000) {
            s.readFloats(t.name());
          }
        }
      } catch (SaeLabException expected) {
        // a clean, named error
      } catch (Throwable other) {
        fail(
            "iteration "
                + it
                + " input "
                + Arrays.toString(Arrays.copyOf(b, Math.min(b.length, 64)))
                + " threw "
                + other,
            other);
      }
    }
  }

  private static byte[] mutate(byte[] seed, Random rnd) {
    byte[] b = seed.clone();
    switch (rnd.nextInt(5)) {
      case 0: // flip a few bytes
        for (int k = 1 + rnd.nextInt(4); k > 0; k--) {
          b[rnd.nextInt(b.length)] ^= (byte) (1 << rnd.nextInt(8));
        }
        return b;
      case 1: // truncate
        return Arrays.copyOf(b, rnd.nextInt(b.length));
      case 2:
        { // write an extreme little-endian integer somewhere (length fields, offsets)
          long[] extremes = {
            0, 1, -1, Integer.MAX_VALUE, Long.MAX_VALUE, 1L << 32, 0xffff, b.length, b.length + 1
          };
          long v = extremes[rnd.nextInt(extremes.length)];
          int at = rnd.nextInt(Math.max(1, b.length - 8));
          for (int i = 0; i < 8 && at + i < b.length; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
          }
          return b;
        }
      case 3:
        { // replace a digit or quote in a textual header
          for (int k = 0; k < 3; k++) {
            int at = rnd.nextInt(b.length);
            if (Character.isDigit(b[at]) || b[at] == '"' || b[at] == '\'' || b[at] == ',') {
              b[at] =
                  List.of((byte) '9', (byte) '-', (byte) '"', (byte) '}', (byte) 'e')
                      .get(rnd.nextInt(5));
            }
          }
          return b;
        }
      default:
        { // splice: duplicate a region
          int from = rnd.nextInt(b.length);
          int len = rnd.nextInt(Math.min(64, b.length - from) + 1);
          byte[] out = Arrays.copyOf(b, b.length + len);
          System.arraycopy(b, from, out, from + len, b.length - from);
          return out;
        }
    }
  }
}
