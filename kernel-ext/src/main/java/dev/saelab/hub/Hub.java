package dev.saelab.hub;

import dev.saelab.io.SaeLabException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Files from the Hugging Face Hub, cached in the layout {@code huggingface_hub} uses, so files
 * downloaded with Python are reused here and ours by Python: {@code
 * {cache}/models--{org}--{name}/blobs/{etag}}, {@code snapshots/{commit}/{path}} (a relative
 * symlink to the blob) and {@code refs/{revision}} (the commit).
 *
 * <p>URLs are the Hub's resolve URLs, {@code {endpoint}/{repo}/resolve/{revision}/{path}}.
 * Redirects are followed by hand so the token is never sent to another host (the Hub redirects
 * large files to its CDN). The token comes from {@code HF_TOKEN} or the standard token file and
 * never appears in output, logs or errors. Full downloads go to {@code blobs/{etag}.incomplete},
 * resume from where they stopped, are checked against the size and (for LFS files, whose etag is
 * their SHA-256) the hash, and are moved into place only when complete. {@link #range} reads byte
 * ranges for partial reads ({@link PartialSafetensors}).
 */
public final class Hub {
  /** The public hub. */
  public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

  private final String endpoint;
  private final String token;
  private final Path cache;
  private HttpClient http;
  private final AtomicLong bytesTransferred = new AtomicLong();
  private LongConsumer progress = n -> {};
  private java.io.PrintStream status = System.err;
  private long statusMinBytes = 1 << 20;

  /**
   * @param endpoint e.g. {@code https://huggingface.co} (no trailing slash)
   * @param token bearer token, or null
   * @param cache the hub cache folder ({@code HF_HUB_CACHE})
   */
  public Hub(String endpoint, String token, Path cache) {
    this.endpoint = endpoint.replaceAll("/+$", "");
    this.token = token == null || token.isBlank() ? null : token.strip();
    this.cache = cache;
  }

  /**
   * The HTTP client, made on the first request (most callers name local paths and never need one).
   */
  private synchronized HttpClient http() {
    if (http == null) {
      http =
          HttpClient.newBuilder()
              .followRedirects(HttpClient.Redirect.NEVER)
              .connectTimeout(Duration.ofSeconds(20))
              .build();
    }
    return http;
  }

  /**
   * The hub as {@code huggingface_hub} configures it: {@code HF_ENDPOINT}; {@code HF_TOKEN}, else
   * the file {@code HF_TOKEN_PATH}, else {@code $HF_HOME/token}; cache {@code HF_HUB_CACHE}, else
   * {@code $HF_HOME/hub}; {@code HF_HOME} defaults to {@code ~/.cache/huggingface}.
   */
  public static Hub fromEnvironment() {
    Map<String, String> env = new java.util.HashMap<>(System.getenv());
    // system properties win (tests and embedding applications set them without touching the
    // environment)
    for (String k :
        new String[] {"HF_HOME", "HF_HUB_CACHE", "HF_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT"}) {
      String v = System.getProperty("saelab." + k);
      if (v != null) {
        env.put(k, v);
      }
    }
    Path home =
        env.containsKey("HF_HOME")
            ? Path.of(env.get("HF_HOME"))
            : Path.of(System.getProperty("user.home"), ".cache", "huggingface");
    Path cache =
        env.containsKey("HF_HUB_CACHE") ? Path.of(env.get("HF_HUB_CACHE")) : home.resolve("hub");
    String token = env.get("HF_TOKEN");
    if (token == null) {
      Path tf =
          env.containsKey("HF_TOKEN_PATH")
              ? Path.of(env.get("HF_TOKEN_PATH"))
              : home.resolve("token");
      try {
        token = Files.isRegularFile(tf) ? Files.readString(tf).strip() : null;
      } catch (IOException e) {
        token = null;
      }
    }
    return new Hub(env.getOrDefault("HF_ENDPOINT", DEFAULT_ENDPOINT), token, cache);
  }

  /** Reports bytes received (for progress bars). */
  public Hub onProgress(LongConsumer p) {
    this.progress = p == null ? n -> {} : p;
    return this;
  }

  /**
   * Where full downloads of at least 1 MB report their progress (default stderr; null for none).
   */
  public Hub status(java.io.PrintStream s) {
    return status(s, 1 << 20);
  }

  /** Where full downloads of at least {@code minBytes} report their progress (null for none). */
  public Hub status(java.io.PrintStream s, long minBytes) {
    this.status = s;
    this.statusMinBytes = minBytes;
    return this;
  }

  /** The cache folder. */
  public Path cache() {
    return cache;
  }

  /** Bytes of response bodies received so far (for tests and benchmarks of partial reads). */
  public long bytesTransferred() {
    return bytesTransferred.get();
  }

  /** {@code models--org--name}. */
  public Path repoFolder(String repo) {
    return cache.resolve("models--" + repo.replace("/", "--"));
  }

  /**
   * Metadata of a file: the commit the revision points at, the blob's etag, its size.
   *
   * @param commit the commit hash ({@code X-Repo-Commit})
   * @param etag the blob id ({@code X-Linked-Etag} for LFS files, else {@code ETag}), unquoted
   * @param size size in bytes
   */
  public record FileMeta(String commit, String etag, long size) {}

  /** Resolves a file's metadata with a HEAD request (no body transferred). */
  @SuppressWarnings("try") // the body is opened only to be closed
  public FileMeta head(String repo, String revision, String path) {
    HttpResponse<InputStream> r = send(repo, url(repo, revision, path), "HEAD", null, path);
    try (InputStream ignored = r.body()) { // no content; closing it releases the connection
      String commit = r.headers().firstValue("x-repo-commit").orElse(revision);
      String etag =
          r.headers()
              .firstValue("x-linked-etag")
              .or(() -> r.headers().firstValue("etag"))
              .map(Hub::unquote)
              .orElseThrow(
                  () -> new SaeLabException("the hub sent no ETag for " + repo + "/" + path));
      long size =
          r.headers()
              .firstValue("x-linked-size")
              .or(() -> r.headers().firstValue("content-length"))
              .map(Long::parseLong)
              .orElse(-1L);
      return new FileMeta(commit, etag, size);
    } catch (IOException e) {
      throw new SaeLabException("reading " + repo + "/" + path + ": " + e.getMessage());
    }
  }

  /**
   * The cached file for {@code path} at {@code revision}, if a snapshot already holds it (no
   * network).
   */
  public Optional<Path> cached(String repo, String revision, String path) {
    Path folder = repoFolder(repo);
    String commit = revision;
    Path ref = folder.resolve("refs").resolve(revision);
    try {
      if (Files.isRegularFile(ref)) {
        commit = Files.readString(ref).strip();
      }
    } catch (IOException e) {
      return Optional.empty();
    }
    Path p = folder.resolve("snapshots").resolve(commit).resolve(path);
    return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
  }

  /**
   * The file, from the cache or downloaded into it: resumes a partial download, checks size and
   * (LFS) SHA-256, and only then moves the blob into place and links the snapshot.
   */
  public Path download(String repo, String revision, String path) {
    FileMeta meta = head(repo, revision, path);
    Path folder = repoFolder(repo);
    Path snapshot = folder.resolve("snapshots").resolve(meta.commit()).resolve(path);
    try {
      writeRef(folder, revision, meta.commit());
      if (Files.isRegularFile(snapshot)) {
        return snapshot;
      }
      Path blob = folder.resolve("blobs").resolve(meta.etag());
      if (!Files.isRegularFile(blob)) {
        fetchBlob(repo, meta, path, blob);
      }
      Files.createDirectories(snapshot.getParent());
      Path rel = snapshot.getParent().relativize(blob);
      try {
        Files.createSymbolicLink(snapshot, rel);
      } catch (UnsupportedOperationException | IOException e) {
        Files.copy(blob, snapshot, StandardCopyOption.REPLACE_EXISTING);
      }
      return snapshot;
    } catch (IOException e) {
      throw new SaeLabException(
          "caching " + repo + "/" + path + " in " + folder + ": " + e.getMessage());
    }
  }

  private void writeRef(Path folder, String revision, String commit) throws IOException {
    if (!revision.equals(commit)) {
      Path ref = folder.resolve("refs").resolve(revision);
      Files.createDirectories(ref.getParent());
      Files.writeString(ref, commit);
    }
  }

  private void fetchBlob(String repo, FileMeta meta, String path, Path blob) throws IOException {
    Files.createDirectories(blob.getParent());
    Path part = blob.resolveSibling(meta.etag() + ".incomplete");
    long have = Files.isRegularFile(part) ? Files.size(part) : 0;
    if (meta.size() >= 0 && have > meta.size()) {
      Files.delete(part);
      have = 0;
    }
    if (meta.size() < 0 || have < meta.size()) {
      String range = have > 0 ? "bytes=" + have + "-" : null;
      HttpResponse<InputStream> r = send(repo, url(repo, meta.commit(), path), "GET", range, path);
      boolean resumed = r.statusCode() == 206;
      long start = resumed ? have : 0;
      long[] done = {start};
      long[] last = {0};
      LongConsumer outer = progress;
      String name = repo + "/" + path;
      progress =
          n -> {
            outer.accept(n);
            done[0] += n;
            long now = System.nanoTime();
            if (status != null
                && meta.size() >= statusMinBytes
                && (now - last[0] > 500_000_000L || done[0] == meta.size())) {
              last[0] = now;
              status.printf(
                  Locale.ROOT,
                  "\rdownloading %s: %.1f of %.1f MB%s",
                  name,
                  done[0] / 1e6,
                  meta.size() / 1e6,
                  done[0] == meta.size() ? "\n" : "");
            }
          };
      try (InputStream in = r.body();
          OutputStream out =
              Files.newOutputStream(
                  part,
                  StandardOpenOption.CREATE,
                  resumed ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING,
                  StandardOpenOption.WRITE)) {
        copy(in, out);
      } catch (IOException e) {
        throw new SaeLabException(
            "download of "
                + repo
                + "/"
                + path
                + " stopped after "
                + Files.size(part)
                + " bytes ("
                + e.getMessage()
                + "); run again to resume");
      } finally {
        progress = outer;
      }
    }
    long got = Files.size(part);
    if (meta.size() >= 0 && got != meta.size()) {
      throw new SaeLabException(
          "download of "
              + repo
              + "/"
              + path
              + " is incomplete: "
              + got
              + " of "
              + meta.size()
              + " bytes; run again to resume");
    }
    if (meta.etag().matches("[0-9a-f]{64}")) {
      String sha = sha256(part);
      if (!sha.equals(meta.etag())) {
        Files.delete(part);
        throw new SaeLabException(
            "download of "
                + repo
                + "/"
                + path
                + " is corrupt: SHA-256 "
                + sha
                + " but the hub says "
                + meta.etag()
                + "; the partial file was removed, run again");
      }
    }
    Files.move(part, blob, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** Bytes {@code [from, from + length)} of a file (a Range request at the given commit). */
  public byte[] range(String repo, String revision, String path, long from, long length) {
    if (length <= 0) {
      return new byte[0];
    }
    if (length > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("range of " + length + " bytes is too large for one read");
    }
    HttpResponse<InputStream> r =
        send(
            repo,
            url(repo, revision, path),
            "GET",
            "bytes=" + from + "-" + (from + length - 1),
            path);
    try (InputStream in = r.body()) {
      if (r.statusCode() != 206) {
        throw new SaeLabException(
            "the server ignored the Range request for "
                + repo
                + "/"
                + path
                + " (status "
                + r.statusCode()
                + "); partial reads need Range support");
      }
      byte[] b = in.readNBytes((int) length);
      bytesTransferred.addAndGet(b.length);
      progress.accept(b.length);
      if (b.length != length) {
        throw new SaeLabException(
            "short read of "
                + repo
                + "/"
                + path
                + ": "
                + b.length
                + " of "
                + length
                + " bytes at offset "
                + from);
      }
      return b;
    } catch (IOException e) {
      throw new SaeLabException("reading " + repo + "/" + path + ": " + e.getMessage());
    }
  }

  private void copy(InputStream in, OutputStream out) throws IOException {
    byte[] buf = new byte[1 << 16];
    int n;
    while ((n = in.read(buf)) > 0) {
      out.write(buf, 0, n);
      bytesTransferred.addAndGet(n);
      progress.accept(n);
      if (Thread.currentThread().isInterrupted()) {
        throw new java.util.concurrent.CancellationException("download interrupted");
      }
    }
  }

  private String url(String repo, String revision, String path) {
    return endpoint + "/" + repo + "/resolve/" + revision + "/" + path;
  }

  /** Sends a request, following redirects by hand (the token goes only to the hub's own host). */
  private HttpResponse<InputStream> send(
      String repo, String url, String method, String range, String path) {
    URI uri = URI.create(url);
    String hubHost = URI.create(endpoint).getHost();
    for (int hop = 0; hop < 6; hop++) {
      HttpRequest.Builder b =
          HttpRequest.newBuilder(uri)
              .timeout(Duration.ofMinutes(10))
              .method(method, HttpRequest.BodyPublishers.noBody())
              .header("User-Agent", "saelab");
      if (token != null && hubHost != null && hubHost.equals(uri.getHost())) {
        b.header("Authorization", "Bearer " + token);
      }
      if (range != null) {
        b.header("Range", range);
      }
      HttpResponse<InputStream> r;
      try {
        r = http().send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
      } catch (IOException e) {
        throw new SaeLabException(
            "cannot reach "
                + uri.getScheme()
                + "://"
                + uri.getAuthority()
                + " for "
                + repo
                + "/"
                + path
                + ": "
                + e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.util.concurrent.CancellationException("download interrupted");
      }
      int s = r.statusCode();
      if (s >= 300 && s < 400 && r.headers().firstValue("location").isPresent()) {
        close(r);
        uri = uri.resolve(r.headers().firstValue("location").get());
        continue;
      }
      if (s == 401 || s == 403) {
        close(r);
        throw new SaeLabException(
            repo
                + " refused access to "
                + path
                + " (HTTP "
                + s
                + "): "
                + (token == null
                    ? "no token was sent; gated repositories (Gemma 2, Gemma Scope) need you to"
                        + " accept the licence on huggingface.co/"
                        + repo
                        + " and a token in HF_TOKEN (or `huggingface-cli login`)"
                    : "the token was sent but has no access; accept the licence on huggingface.co/"
                        + repo
                        + " with the token's account"));
      }
      if (s == 404) {
        close(r);
        throw new SaeLabException(
            repo + " has no file " + path + " (HTTP 404 from " + uri.getAuthority() + ")");
      }
      if (s >= 400) {
        close(r);
        throw new SaeLabException(
            repo + "/" + path + ": HTTP " + s + " from " + uri.getAuthority());
      }
      return r;
    }
    throw new SaeLabException(repo + "/" + path + ": too many redirects");
  }

  private static void close(HttpResponse<InputStream> r) {
    try {
      r.body().close();
    } catch (IOException ignored) {
      // nothing to do
    }
  }

  private static String unquote(String etag) {
    String e = etag.strip();
    if (e.startsWith("W/")) {
      e = e.substring(2);
    }
    return e.replace("\"", "").toLowerCase(Locale.ROOT);
  }

  static String sha256(Path p) throws IOException {
    try (InputStream in = Files.newInputStream(p)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() {
    return "Hub["
        + endpoint
        + ", cache "
        + cache
        + ", token "
        + (token == null ? "none" : "set")
        + "]";
  }
}
