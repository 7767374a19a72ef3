package dev.saelab.io;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face sharded checkpoint: {@code model.safetensors.index.json} ({@code weight_map:
 * tensor -> shard file}) plus its shards. Opening reads the index and each shard's header only.
 */
public final class ShardedSafetensors implements TensorSource {
  private final Path index;
  private final Map<String, SafetensorsFile> shards;
  private final Map<String, SafetensorsFile> byTensor;
  private final List<TensorInfo> tensors;

  private ShardedSafetensors(
      Path index,
      Map<String, SafetensorsFile> shards,
      Map<String, SafetensorsFile> byTensor,
      List<TensorInfo> tensors) {
    this.index = index;
    this.shards = shards;
    this.byTensor = byTensor;
    this.tensors = tensors;
  }

  /** Opens an index file and the headers of the shards it names. */
  public static ShardedSafetensors open(Path indexFile) {
    return open(indexFile, name -> true);
  }

  /**
   * Opens an index file and the headers of the shards that hold a tensor {@code keep} accepts; the
   * other tensors are left out and a shard holding only those is never opened.
   */
  public static ShardedSafetensors open(Path indexFile, java.util.function.Predicate<String> keep) {
    JsonNode root = Json.read(indexFile);
    JsonNode map = root.get("weight_map");
    if (map == null || !map.isObject() || map.size() == 0) {
      throw SaeLabException.inFile(
          indexFile, "missing object 'weight_map' (tensor name -> shard file)");
    }
    Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
    Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
    List<TensorInfo> tensors = new ArrayList<>();
    try {
      for (var it = map.fields(); it.hasNext(); ) {
        var e = it.next();
        if (!keep.test(e.getKey())) {
          continue;
        }
        String shardName = e.getValue().asText();
        Path shardPath = indexFile.resolveSibling(shardName).normalize();
        if (!e.getValue().isTextual() || shardName.contains("/") || shardName.contains("\\")) {
          throw SaeLabException.inFile(
              indexFile,
              "weight_map '"
                  + e.getKey()
                  + "' must name a shard file beside "
                  + "the index, got "
                  + e.getValue());
        }
        SafetensorsFile shard = shards.get(shardName);
        if (shard == null) {
          if (!Files.isRegularFile(shardPath)) {
            throw SaeLabException.inFile(
                indexFile,
                "weight_map names shard '"
                    + shardName
                    + "', which does not exist beside the index");
          }
          shard = SafetensorsFile.open(shardPath);
          shards.put(shardName, shard);
        }
        TensorInfo t = shard.find(e.getKey()).orElse(null);
        if (t == null) {
          throw SaeLabException.inFile(
              indexFile,
              "weight_map puts tensor '"
                  + e.getKey()
                  + "' in "
                  + shardName
                  + ", which has no such tensor");
        }
        byTensor.put(e.getKey(), shard);
        tensors.add(t);
      }
    } catch (RuntimeException ex) {
      shards.values().forEach(SafetensorsFile::close);
      throw ex;
    }
    return new ShardedSafetensors(
        indexFile, shards, byTensor, Collections.unmodifiableList(tensors));
  }

  @Override
  public Path path() {
    return index;
  }

  @Override
  public String format() {
    return "safetensors (sharded, " + shards.size() + " shards)";
  }

  @Override
  public List<TensorInfo> tensors() {
    return tensors;
  }

  /** Shard file name holding the tensor. */
  public String shardOf(String tensor) {
    info(tensor);
    return byTensor.get(tensor).path().getFileName().toString();
  }

  @Override
  public void read(String name, FloatChunkSink sink) {
    info(name);
    byTensor.get(name).read(name, sink);
  }

  @Override
  public void readRange(String name, long start, long count, FloatChunkSink sink) {
    info(name);
    byTensor.get(name).readRange(name, start, count, sink);
  }

  @Override
  public long bytesRead() {
    return shards.values().stream().mapToLong(SafetensorsFile::bytesRead).sum();
  }

  @Override
  public void close() {
    shards.values().forEach(SafetensorsFile::close);
  }
}
