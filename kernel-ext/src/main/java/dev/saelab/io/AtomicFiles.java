package dev.saelab.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.security.SecureRandom;

/**
 * Writes a file through a temporary file in the same folder, moved into place when complete, so
 * readers never see half a file. The file gets the permissions a plain {@link
 * Files#newOutputStream} would give it: the user's umask for a new file, the old file's permissions
 * when it replaces one ({@link Files#createTempFile} would make it owner-only, 0600).
 */
public final class AtomicFiles {
  private static final SecureRandom RANDOM = new SecureRandom();

  private AtomicFiles() {}

  /** What writes the content. */
  @FunctionalInterface
  public interface Content {
    /** Writes the whole content to {@code out} (closed by the caller). */
    void writeTo(OutputStream out) throws IOException;
  }

  /**
   * Writes {@code content} to {@code file}, creating its folder; on failure the file is as it was.
   */
  public static void write(Path file, Content content) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Path tmp = null;
    try {
      OutputStream out = null;
      for (int attempt = 0; out == null; attempt++) {
        tmp = parent.resolve(".saelab-" + Long.toUnsignedString(RANDOM.nextLong(), 36) + ".tmp");
        try {
          // CREATE_NEW: never follows or reuses an existing name; the mode is the default one (0666
          // & ~umask)
          out = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (FileAlreadyExistsException e) {
          tmp = null;
          if (attempt >= 100) {
            throw e;
          }
        }
      }
      try (OutputStream o = out) {
        content.writeTo(o);
      }
      keepPermissions(file, tmp);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      tmp = null;
    } finally {
      if (tmp != null) {
        Files.deleteIfExists(tmp);
      }
    }
  }

  /**
   * When {@code file} exists, gives {@code tmp} its permissions (as rewriting it in place would
   * keep them).
   */
  private static void keepPermissions(Path file, Path tmp) {
    PosixFileAttributeView old = Files.getFileAttributeView(file, PosixFileAttributeView.class);
    PosixFileAttributeView fresh = Files.getFileAttributeView(tmp, PosixFileAttributeView.class);
    if (old == null || fresh == null || !Files.exists(file)) {
      return;
    }
    try {
      fresh.setPermissions(old.readAttributes().permissions());
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      // the new file keeps the default permissions
    }
  }
}
