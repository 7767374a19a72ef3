package dev.saelab.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Writes named float32 arrays as one safetensors file: an 8-byte little-endian header length, the
 * JSON header (dtype {@code F32}, shape, data offsets; padded with spaces to a multiple of 8
 * bytes), then the data in C order, little-endian. Written through {@link AtomicFiles}, so a failed
 * write leaves no half file.
 */
public final class SafetensorsWriter {
  private SafetensorsWriter() {}

  /** Writes {@code tensors} in their map order, with optional string {@code metadata}. */
  public static void write(Path file, Map<String, INDArray> tensors, Map<String, String> metadata)
      throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode header = json.createObjectNode();
    if (metadata != null && !metadata.isEmpty()) {
      ObjectNode meta = header.putObject("__metadata__");
      metadata.forEach(meta::put);
    }
    long offset = 0;
    for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
      if (e.getKey().equals("__metadata__") || e.getKey().isEmpty()) {
        throw new IllegalArgumentException("tensor name '" + e.getKey() + "' is reserved");
      }
      INDArray a = e.getValue();
      long bytes = a.length() * 4L;
      ObjectNode t = header.putObject(e.getKey());
      t.put("dtype", "F32");
      ArrayNode shape = t.putArray("shape");
      for (long s : a.shape()) {
        shape.add(s);
      }
      t.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] h = json.writeValueAsBytes(header);
    int padded = (h.length + 7) / 8 * 8;
    byte[] head = new byte[padded];
    System.arraycopy(h, 0, head, 0, h.length);
    for (int i = h.length; i < padded; i++) {
      head[i] = ' ';
    }
    AtomicFiles.write(
        file,
        raw -> {
          OutputStream out = new BufferedOutputStream(raw, 1 << 16);
          ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
          len.putLong(padded);
          out.write(len.array());
          out.write(head);
          ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
          for (INDArray a : tensors.values()) {
            float[] v;
            try (INDArray c = a.castTo(DataType.FLOAT).dup('c')) {
              v = c.data().asFloat();
            }
            for (float f : v) {
              if (!buf.hasRemaining()) {
                out.write(buf.array(), 0, buf.position());
                buf.clear();
              }
              buf.putFloat(f);
            }
          }
          out.write(buf.array(), 0, buf.position());
          out.flush();
        });
  }
}
