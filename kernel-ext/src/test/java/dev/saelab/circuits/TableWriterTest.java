package dev.saelab.circuits;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.saelab.linalg.FeatureEdge;
import dev.saelab.linalg.RankBy;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Written tables get the permissions a plain write would give them, and no temporary file stays
 * behind.
 */
class TableWriterTest {
  @TempDir Path dir;

  static final List<CircuitTable> TABLE =
      List.of(
          new CircuitTable(
              CircuitKind.QK, 1, 0, RankBy.ABS, 1, List.of(new FeatureEdge(17, 42, 0.5f))));

  @Test
  void aNewCsvHasTheSamePermissionsAsAFreshFileInItsFolder() throws IOException {
    assumeTrue(
        FileSystems.getDefault().supportedFileAttributeViews().contains("posix"),
        "POSIX permissions");
    Path fresh = dir.resolve("fresh.csv");
    try (OutputStream o = Files.newOutputStream(fresh)) {
      o.write('x');
    }
    Path csv = dir.resolve("qk.csv");
    TableWriter.csv(csv, TABLE, null, null);
    assertEquals(
        PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh)),
        PosixFilePermissions.toString(Files.getPosixFilePermissions(csv)));
    assertEquals(
        List.of("circuit,layer,head,rank,query_feature,key_feature,value", "qk,1,0,1,17,42,0.5"),
        Files.readAllLines(csv));
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(Set.of(fresh, csv), Set.copyOf(s.toList()), "no temporary file left");
    }
  }

  @Test
  void rewritingAFileKeepsItsPermissions() throws IOException {
    assumeTrue(
        FileSystems.getDefault().supportedFileAttributeViews().contains("posix"),
        "POSIX permissions");
    Path csv = dir.resolve("qk.csv");
    Files.writeString(csv, "old\n");
    Set<PosixFilePermission> groupReadable = PosixFilePermissions.fromString("rw-r-----");
    Files.setPosixFilePermissions(csv, groupReadable);
    TableWriter.csv(csv, TABLE, null, null);
    assertEquals(groupReadable, Files.getPosixFilePermissions(csv));
    assertEquals("qk,1,0,1,17,42,0.5", Files.readAllLines(csv).get(1));
  }
}
