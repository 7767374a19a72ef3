package dev.saelab.sae;

import dev.saelab.io.DType;
import dev.saelab.io.FloatChunkSink;
import dev.saelab.io.SaeLabException;
import dev.saelab.io.SafetensorsFile;
import dev.saelab.io.TensorInfo;
import dev.saelab.io.TensorReadSupport;
import dev.saelab.io.TensorSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * circuit-tracer transcoder sets (decoderesearch/circuit-tracer, commit 4bb8c0e: {@code
 * circuit_tracer/utils/hf_utils.py} {@code load_transcoders}, {@code
 * transcoder/single_layer_transcoder.py} {@code load_transcoder}, {@code
 * transcoder/cross_layer_transcoder.py} {@code _load_state_dict}, {@code _get_decoder_vectors}),
 * one dictionary at a time, named by a folder and a selector:
 *
 * <ul>
 *   <li>{@code DIR#layer=i}, per-layer transcoders ({@code model_kind: transcoder_set}): {@code
 *       layer_{i}.safetensors} with {@code W_enc [d_tc, d]}, {@code W_dec [d_tc, d]}, {@code b_enc
 *       [d_tc]}, {@code b_dec [d]}, optional {@code activation_function.threshold [d_tc]} and
 *       {@code W_skip [d, d]} (not used). The encoder reads layer i's MLP input, the decoder writes
 *       its output: W_dec is a dictionary for the stream after layer i's MLP (the input of
 *       attention layer i + 1), W_enc for the stream the MLP reads (after attention layer i).
 *   <li>{@code DIR#writes=L}, a cross-layer transcoder ({@code model_kind:
 *       cross_layer_transcoder}): {@code W_dec_{i}.safetensors} holds {@code W_dec_i [d_tc,
 *       n_layers − i, d]}, whose slice {@code [:, L − i, :]} is what source layer i's features
 *       write into layer L's output. The dictionary concatenates those slices for i = 0 … L:
 *       feature {@code i·d_tc + f} is feature f of source layer i ({@code d_sae = (L + 1)·d_tc});
 *       {@code b_dec} is {@code b_dec_L} (from {@code W_enc_L.safetensors}). Only the slices are
 *       read, row by row ({@code d_tc·d} elements per source layer), never a whole {@code W_dec_i}.
 *       There is no W_enc: each source layer's encoder reads a different stream.
 * </ul>
 *
 * <p>{@code config.yaml} is required; read: {@code model_kind}, {@code model_name}, {@code
 * feature_input_hook}, {@code feature_output_hook}, {@code activation} and {@code k} (top-k sets),
 * {@code transcoders} (a list of per-layer files, used when {@code layer_{i}.safetensors} is
 * absent) and, optionally, {@code n_layers}. A CLT's n_layers is {@code W_dec_0}'s second
 * dimension.
 */
final class TranscoderSets {
  private static final Pattern SELECTOR = Pattern.compile("(layer|writes)=(\\d{1,6})");

  private TranscoderSets() {}

  /** A folder plus {@code #layer=i} or {@code #writes=L}. */
  record Selector(Path dir, String kind, int index) {
    /**
     * The selector at the end of {@code path}, or null when it has none (or when a file of that
     * exact name exists).
     */
    static Selector parse(Path path) {
      String s = path.toString();
      int hash = s.lastIndexOf('#');
      if (hash < 0 || Files.exists(path)) {
        return null;
      }
      Path dir = Path.of(s.substring(0, hash));
      Matcher m = SELECTOR.matcher(s.substring(hash + 1));
      if (!m.matches()) {
        throw SaeLabException.inFile(
            dir,
            "unknown selector '#"
                + s.substring(hash + 1)
                + "': expected #layer=i (per-layer transcoders) or #writes=L (cross-layer"
                + " transcoder decoders writing into layer L)");
      }
      return new Selector(dir, m.group(1), Integer.parseInt(m.group(2)));
    }

    @Override
    public String toString() {
      return dir + "#" + kind + "=" + index;
    }
  }

  /** True if {@code dir} looks like a transcoder set (config.yaml, layer_0 or W_enc_0). */
  static boolean isSet(Path dir) {
    return Files.isRegularFile(dir.resolve("config.yaml"))
        || Files.isRegularFile(dir.resolve("layer_0.safetensors"))
        || Files.isRegularFile(dir.resolve("W_enc_0.safetensors"));
  }

  /** The one-line error for a set named without a selector. */
  static SaeLabException needsSelector(Path dir) {
    return SaeLabException.inFile(
        dir,
        "a circuit-tracer transcoder set holds one dictionary per layer: name one with"
            + " #layer=i (per-layer transcoders) or #writes=L (cross-layer transcoder), e.g. "
            + dir
            + "#layer=0");
  }

  static SaeDictionary open(Selector sel) {
    Path dir = sel.dir();
    if (!Files.isDirectory(dir)) {
      throw SaeLabException.inFile(dir, "no such folder (a transcoder set is a folder)");
    }
    Path cfgFile = dir.resolve("config.yaml");
    if (!Files.isRegularFile(cfgFile)) {
      throw SaeLabException.inFile(
          cfgFile,
          "missing: a circuit-tracer transcoder set needs config.yaml (model_kind,"
              + " feature_input_hook, feature_output_hook)");
    }
    Map<String, Object> cfg = readYaml(cfgFile);
    String kind = text(cfg, "model_kind");
    if (kind == null) {
      throw SaeLabException.inFile(
          cfgFile,
          "field 'model_kind' is missing (expected transcoder_set or cross_layer_transcoder)");
    }
    Integer nLayersCfg = null;
    if (text(cfg, "n_layers") != null) {
      try {
        nLayersCfg = Integer.parseInt(text(cfg, "n_layers"));
      } catch (NumberFormatException e) {
        throw SaeLabException.inFile(
            cfgFile, "field 'n_layers' must be an integer, got '" + text(cfg, "n_layers") + "'");
      }
    }
    if (sel.kind().equals("layer")) {
      if (!kind.equals("transcoder_set")) {
        throw SaeLabException.inFile(
            cfgFile,
            "field 'model_kind' is '"
                + kind
                + "', but #layer=i names a per-layer transcoder (model_kind transcoder_set); a"
                + " cross-layer transcoder takes #writes=L");
      }
      if (nLayersCfg != null && sel.index() >= nLayersCfg) {
        throw SaeLabException.inFile(
            cfgFile,
            "#layer="
                + sel.index()
                + " is past the last layer (field 'n_layers' is "
                + nLayersCfg
                + ")");
      }
      return perLayer(sel, cfgFile, cfg);
    }
    if (!kind.equals("cross_layer_transcoder")) {
      throw SaeLabException.inFile(
          cfgFile,
          "field 'model_kind' is '"
              + kind
              + "', but #writes=L names cross-layer transcoder decoders (model_kind"
              + " cross_layer_transcoder); a per-layer set takes #layer=i");
    }
    return writesInto(sel, cfgFile, cfg, nLayersCfg);
  }

  private static SaeDictionary perLayer(Selector sel, Path cfgFile, Map<String, Object> cfg) {
    int i = sel.index();
    Path file = sel.dir().resolve("layer_" + i + ".safetensors");
    if (!Files.isRegularFile(file) && cfg.get("transcoders") instanceof List<?> list) {
      if (i >= list.size()) {
        throw SaeLabException.inFile(
            cfgFile,
            "#layer="
                + i
                + " is past the last layer (field 'transcoders' lists "
                + list.size()
                + ")");
      }
      String p = String.valueOf(list.get(i));
      if (p.startsWith("hf://")) {
        throw SaeLabException.inFile(
            cfgFile,
            "field 'transcoders' entry "
                + i
                + " is "
                + p
                + ": SAE Lab reads local files only; download it beside config.yaml as layer_"
                + i
                + ".safetensors");
      }
      file = sel.dir().resolve(p);
    }
    if (!Files.isRegularFile(file)) {
      throw SaeLabException.inFile(file, "missing: no per-layer transcoder for layer " + i);
    }
    SafetensorsFile f = SafetensorsFile.open(file);
    try {
      Map<String, String> names = new LinkedHashMap<>();
      for (TensorInfo t : f.tensors()) {
        String n = t.name();
        String canon =
            n.equals("activation_function.threshold")
                ? "threshold"
                : n.startsWith("w_") ? "W_" + n.substring(2) : n;
        names.putIfAbsent(canon, n);
      }
      for (String r : List.of("W_enc", "W_dec", "b_enc", "b_dec")) {
        if (!names.containsKey(r)) {
          throw SaeLabException.inFile(
              file,
              "missing transcoder tensor '"
                  + r
                  + "' (a per-layer transcoder needs W_enc, W_dec, b_enc, b_dec; found "
                  + names.values()
                  + ")");
        }
      }
      TensorInfo benc = f.info(names.get("b_enc"));
      TensorInfo bdec = f.info(names.get("b_dec"));
      if (benc.shape().length != 1 || bdec.shape().length != 1) {
        throw SaeLabException.inFile(
            file,
            "b_enc and b_dec must be 1-D, got "
                + benc.shapeString()
                + " and "
                + bdec.shapeString());
      }
      long dIn = bdec.shape()[0];
      long dSae = benc.shape()[0];
      Map<String, String> used = new LinkedHashMap<>();
      for (String c : List.of("W_enc", "W_dec", "b_enc", "b_dec", "threshold")) {
        if (names.containsKey(c)) {
          used.put(c, names.get(c));
        }
      }
      SaeLoader.checkShapes(f, file, used, dIn, dSae);
      String arch =
          used.containsKey("threshold")
              ? "jumprelu"
              : "topk".equals(text(cfg, "activation")) ? "topk" : "standard";
      long k = parseLong(text(cfg, "k"));
      String out = text(cfg, "feature_output_hook");
      SaeConfig c =
          new SaeConfig(
              "circuit-tracer transcoder",
              arch,
              dIn,
              dSae,
              out == null ? null : "blocks." + i + "." + out,
              i,
              false,
              k,
              null,
              false,
              text(cfg, "model_name"));
      return new SaeDictionary(sel.dir(), c, f, used, Map.of(), sel.toString());
    } catch (RuntimeException e) {
      f.close();
      throw e;
    }
  }

  private static SaeDictionary writesInto(
      Selector sel, Path cfgFile, Map<String, Object> cfg, Integer nLayersCfg) {
    Path dir = sel.dir();
    int target = sel.index();
    Path dec0 = dir.resolve("W_dec_0.safetensors");
    if (!Files.isRegularFile(dec0)) {
      throw SaeLabException.inFile(
          dec0, "missing: a cross-layer transcoder needs W_dec_{i}.safetensors");
    }
    List<TensorSource> opened = new ArrayList<>();
    try {
      SafetensorsFile f0 = SafetensorsFile.open(dec0);
      opened.add(f0);
      long[] s0 = f0.info("W_dec_0").shape();
      if (s0.length != 3) {
        throw SaeLabException.inTensor(
            dec0,
            "W_dec_0",
            "shape " + java.util.Arrays.toString(s0) + ", expected [d_tc, n_layers, d]");
      }
      long dTc = s0[0];
      int nLayers = Math.toIntExact(s0[1]);
      long d = s0[2];
      if (nLayersCfg != null && nLayersCfg != nLayers) {
        throw SaeLabException.inFile(
            cfgFile,
            "field 'n_layers' is "
                + nLayersCfg
                + " but W_dec_0 "
                + java.util.Arrays.toString(s0)
                + " spans "
                + nLayers
                + " layers");
      }
      if (target >= nLayers) {
        throw SaeLabException.inFile(
            nLayersCfg != null ? cfgFile : dec0,
            "#writes="
                + target
                + " is past the last layer: "
                + (nLayersCfg != null
                    ? "field 'n_layers' is " + nLayers
                    : "W_dec_0 " + java.util.Arrays.toString(s0) + " spans " + nLayers + " layers")
                + " (0 … "
                + (nLayers - 1)
                + ")");
      }
      long dSae = Math.multiplyExact(dTc, target + 1L);
      List<SafetensorsFile> decs = new ArrayList<>();
      decs.add(f0);
      for (int i = 1; i <= target; i++) {
        Path p = dir.resolve("W_dec_" + i + ".safetensors");
        if (!Files.isRegularFile(p)) {
          throw SaeLabException.inFile(p, "missing: source layer " + i + " of #writes=" + target);
        }
        SafetensorsFile fi = SafetensorsFile.open(p);
        opened.add(fi);
        decs.add(fi);
        String name = "W_dec_" + i;
        long[] want = {dTc, nLayers - i, d};
        long[] got = fi.info(name).shape();
        if (!java.util.Arrays.equals(got, want)) {
          throw SaeLabException.inTensor(
              p,
              name,
              "shape "
                  + java.util.Arrays.toString(got)
                  + ", expected "
                  + java.util.Arrays.toString(want)
                  + " = [d_tc, n_layers − "
                  + i
                  + ", d]");
        }
      }
      Path encL = dir.resolve("W_enc_" + target + ".safetensors");
      if (!Files.isRegularFile(encL)) {
        throw SaeLabException.inFile(
            encL, "missing: holds b_dec_" + target + ", the decoder bias of layer " + target);
      }
      SafetensorsFile fe = SafetensorsFile.open(encL);
      opened.add(fe);
      String bName = "b_dec_" + target;
      long[] bs = fe.info(bName).shape();
      if (bs.length != 1 || bs[0] != d) {
        throw SaeLabException.inTensor(
            encL, bName, "shape " + java.util.Arrays.toString(bs) + ", expected [" + d + "]");
      }
      DerivedTensors t =
          new DerivedTensors(dir, "safetensors (cross-layer transcoder slices)", opened);
      t.add(
          new TensorInfo("W_dec", f0.info("W_dec_0").dtype(), new long[] {dSae, d}),
          sink -> {
            for (int i = 0; i <= target; i++) {
              readSlice(
                  decs.get(i), "W_dec_" + i, target - i, nLayers - i, dTc, d, i * dTc, sink, t);
            }
          });
      t.alias("b_dec", fe, bName);
      Map<String, String> names = new LinkedHashMap<>();
      names.put("W_dec", "W_dec");
      names.put("b_dec", "b_dec");
      String out = text(cfg, "feature_output_hook");
      boolean jump = false;
      try (SafetensorsFile e0 =
          Files.isRegularFile(dir.resolve("W_enc_0.safetensors"))
              ? SafetensorsFile.open(dir.resolve("W_enc_0.safetensors"))
              : null) {
        jump = e0 != null && e0.find("threshold_0").isPresent();
      }
      SaeConfig c =
          new SaeConfig(
              "circuit-tracer clt writes=" + target,
              jump ? "jumprelu" : "standard",
              d,
              dSae,
              out == null ? null : "blocks." + target + "." + out,
              target,
              false,
              parseLong(text(cfg, "k")),
              null,
              false,
              text(cfg, "model_name"));
      Map<String, String> absent = new LinkedHashMap<>();
      absent.put(
          "W_enc",
          "a #writes=L dictionary has no encoder: feature i·d_tc + f is read by source layer i's"
              + " encoder, on layer i's stream");
      return new SaeDictionary(dir, c, t, names, absent, sel.toString());
    } catch (RuntimeException e) {
      for (TensorSource s : opened) {
        s.close();
      }
      throw e;
    }
  }

  /**
   * Reads {@code W[r, slice, :]} for every row r of a {@code [rows, nSlices, d]} tensor, straight
   * from the file (only those bytes), into rows {@code rowBase + r} of the sink.
   */
  private static void readSlice(
      SafetensorsFile f,
      String name,
      int slice,
      int nSlices,
      long rows,
      long d,
      long rowBase,
      FloatChunkSink sink,
      DerivedTensors counter) {
    TensorInfo t = f.info(name);
    DType dt = t.dtype();
    if (!dt.readableAsFloat()) {
      throw SaeLabException.inTensor(
          f.path(),
          name,
          "dtype " + dt + " is not a floating-point type; SAE Lab reads F32, F16, BF16 and F64");
    }
    int es = dt.size();
    long begin = f.fileRange(name)[0];
    int n = Math.toIntExact(d);
    ByteBuffer buf = ByteBuffer.allocate(Math.multiplyExact(n, es)).order(ByteOrder.LITTLE_ENDIAN);
    float[] row = new float[n];
    try (FileChannel ch = FileChannel.open(f.path(), StandardOpenOption.READ)) {
      for (long r = 0; r < rows; r++) {
        long pos = begin + ((r * nSlices + slice) * d) * es;
        buf.clear();
        while (buf.hasRemaining()) {
          if (ch.read(buf, pos + buf.position()) < 0) {
            throw new IOException("unexpected end of file");
          }
        }
        buf.flip();
        for (int k = 0; k < n; k++) {
          row[k] =
              switch (dt) {
                case F32 -> buf.getFloat();
                case F64 -> (float) buf.getDouble();
                case BF16 -> TensorReadSupport.bf16ToFloat(buf.getShort());
                default -> TensorReadSupport.f16ToFloat(buf.getShort());
              };
        }
        sink.accept((rowBase + r) * d, row, n);
        counter.countBytes((long) n * es);
      }
    } catch (IOException e) {
      throw SaeLabException.inTensor(f.path(), name, "read failed: " + e.getMessage());
    }
  }

  private static String text(Map<String, Object> cfg, String key) {
    Object v = cfg.get(key);
    return v instanceof String s ? s : null;
  }

  private static long parseLong(String s) {
    if (s == null) {
      return 0;
    }
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /**
   * The flat subset of YAML that circuit-tracer configs use: top-level {@code key: value} scalars
   * (quotes stripped, {@code #} comments dropped) and lists of scalars ({@code key:} then {@code -
   * item} lines). Nested mappings are skipped.
   */
  static Map<String, Object> readYaml(Path file) {
    String text;
    try {
      if (Files.size(file) > (1 << 20)) {
        throw SaeLabException.inFile(file, "over 1 MiB: not a transcoder config");
      }
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw SaeLabException.inFile(file, "cannot read: " + e.getMessage());
    }
    Map<String, Object> out = new LinkedHashMap<>();
    List<String> list = null;
    for (String raw : text.split("\\R")) {
      String line = stripComment(raw);
      if (line.isBlank()) {
        continue;
      }
      boolean indented = Character.isWhitespace(line.charAt(0));
      String t = line.strip();
      if (t.startsWith("- ") || t.equals("-")) {
        if (list != null) {
          list.add(unquote(t.substring(1).strip()));
        }
        continue;
      }
      if (indented) {
        continue;
      }
      int colon = t.indexOf(':');
      if (colon <= 0) {
        throw SaeLabException.inFile(file, "not a 'key: value' line: " + t);
      }
      String key = t.substring(0, colon).strip();
      String value = t.substring(colon + 1).strip();
      if (value.isEmpty()) {
        list = new ArrayList<>();
        out.put(key, list);
      } else {
        list = null;
        out.put(key, unquote(value));
      }
    }
    return out;
  }

  private static String stripComment(String line) {
    boolean single = false;
    boolean dbl = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c == '\'' && !dbl) {
        single = !single;
      } else if (c == '"' && !single) {
        dbl = !dbl;
      } else if (c == '#'
          && !single
          && !dbl
          && (i == 0 || Character.isWhitespace(line.charAt(i - 1)))) {
        return line.substring(0, i);
      }
    }
    return line;
  }

  private static String unquote(String v) {
    if (v.length() >= 2
        && ((v.startsWith("\"") && v.endsWith("\"")) || (v.startsWith("'") && v.endsWith("'")))) {
      return v.substring(1, v.length() - 1);
    }
    return v;
  }
}
