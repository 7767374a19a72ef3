package dev.saelab.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/** Reads a tensor's data from a stream (NPY inside NPZ, or a plain NPY) into float chunks. */
final class StreamTensors {
  private StreamTensors() {}

  /** Reads exactly {@code t.byteSize()} bytes after the header; fails if the stream ends early. */
  static long readData(InputStream in, TensorInfo t, Path file, FloatChunkSink sink)
      throws IOException {
    int es = t.dtype().size();
    long total = t.numel();
    int chunkElems = (int) Math.min(TensorReadSupport.CHUNK, Math.max(total, 1));
    byte[] bytes = new byte[chunkElems * es];
    float[] floats = new float[chunkElems];
    long done = 0;
    while (done < total) {
      int c = (int) Math.min(chunkElems, total - done);
      int got = in.readNBytes(bytes, 0, c * es);
      if (got < c * es) {
        throw SaeLabException.inTensor(
            file,
            t.name(),
            "data truncated: expected "
                + t.byteSize()
                + " bytes for "
                + t.dtype()
                + " "
                + t.shapeString()
                + ", found "
                + (done * es + got));
      }
      TensorReadSupport.convert(ByteBuffer.wrap(bytes, 0, c * es), t.dtype(), floats, c);
      sink.accept(done, floats, c);
      done += c;
    }
    return total * es;
  }
}
