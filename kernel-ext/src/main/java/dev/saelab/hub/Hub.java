package dev.saelab.hub;

import dev.saelab.io.HostEnv;
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
 * ranges for partial reads ({@link PartialSafetensors}). Dataset repositories are named {@code
 * datasets/ORG/NAME} (URLs {@code {endpoint}/datasets/ORG/NAME/resolve/…}, cache folder {@code
 * datasets--ORG--NAME}). Every failure is one line: an unknown repository or revision, refused
 * access (whether a token was sent, and how to get access), a missing file (repository, revision
 * and path), or the URL that could not be reached.
 */
public final class Hub {
  /** The public hub. */
  public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

  private static final java.util.regex.Pattern SAFE_NAME =
      java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

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
   * the file {@code HF_TOKEN_PATH}, else {@code $HF_HOME/token}; cache {@link #hubCache}. System
   * properties {@code saelab.HF_HOME} (and so on) win over the environment.
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
    HostEnv host =
        new HostEnv(env, System.getProperty("os.name", ""), System.getProperty("user.home", ""));
    Path cache = Path.of(hubCache(host));
    String token = env.get("HF_TOKEN");
    if (token == null) {
      Path tf = Path.of(tokenPath(host));
      try {
        token = Files.isRegularFile(tf) ? Files.readString(tf).strip() : null;
      } catch (IOException e) {
        token = null;
      }
    }
    return new Hub(env.getOrDefault("HF_ENDPOINT", DEFAULT_ENDPOINT), token, cache);
  }

  /**
   * {@code HF_HOME} as {@code huggingface_hub} computes it on any system: the variable (a leading
   * {@code ~} expanded), else {@code $XDG_CACHE_HOME/huggingface}, else {@code
   * ~/.cache/huggingface}, where {@code ~} is {@code %USERPROFILE%} on Windows (so {@code
   * C:\Users\NAME\.cache\huggingface}) and {@code $HOME} on Linux and macOS.
   */
  public static String hfHome(HostEnv host) {
    String v = host.get("HF_HOME");
    if (v != null) {
      return host.expandUser(v);
    }
    String xdg = host.get("XDG_CACHE_HOME");
    return host.join(
        xdg != null ? host.expandUser(xdg) : host.join(host.home(), ".cache"), "huggingface");
  }

  /**
   * The hub cache: {@code HF_HUB_CACHE}, else {@code HUGGINGFACE_HUB_CACHE}, else {@code
   * $HF_HOME/hub}.
   */
  public static String hubCache(HostEnv host) {
    String v = host.get("HF_HUB_CACHE");
    if (v == null) {
      v = host.get("HUGGINGFACE_HUB_CACHE");
    }
    return v != null ? host.expandUser(v) : host.join(hfHome(host), "hub");
  }

  /** The token file: {@code HF_TOKEN_PATH}, else {@code $HF_HOME/token}. */
  public static String tokenPath(HostEnv host) {
    String v = host.get("HF_TOKEN_PATH");
    return v != null ? host.expandUser(v) : host.join(hfHome(host), "token");
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

  /** The hub's host and port, for messages. */
  String authority() {
    return URI.create(endpoint).getAuthority();
  }

  /** The cache folder. */
  public Path cache() {
    return cache;
  }

  /** Bytes of response bodies received so far (for tests and benchmarks of partial reads). */
  public long bytesTransferred() {
    return bytesTransferred.get();
  }

  /**
   * {@code models--org--name}, or {@code datasets--org--name} for {@code datasets/org/name}, as
   * {@code huggingface_hub} names them.
   */
  public Path repoFolder(String repo) {
    return cache.resolve(repoFolderName(repo));
  }

  static String repoFolderName(String repo) {
    for (String kind : new String[] {"datasets", "spaces"}) {
      if (repo.startsWith(kind + "/")) {
        return kind + "--" + repo.substring(kind.length() + 1).replace("/", "--");
      }
    }
    return "models--" + repo.replace("/", "--");
  }

  /**
   * Metadata of a file: the commit the revision points at, the blob's etag, its size.
   *
   * @param commit the commit hash ({@code X-Repo-Commit})
   * @param etag the blob id ({@code X-Linked-Etag} for LFS files, else {@code ETag}), unquoted
   * @param size size in bytes
   */
  public record FileMeta(String commit, String etag, long size) {}

  /**
   * Resolves a file's metadata with a HEAD request (no body transferred), as {@code
   * huggingface_hub} does: redirects within the hub (a renamed repository) are followed, the one to
   * the CDN is not, its answer carrying the metadata.
   */
  public FileMeta head(String repo, String revision, String path) {
    return find(repo, revision, path, false).orElseThrow();
  }

  /**
   * Like {@link #head}, but a file the repository does not have is empty instead of an error (a
   * missing repository or revision, or refused access, is still an error).
   */
  public Optional<FileMeta> find(String repo, String revision, String path) {
    return find(repo, revision, path, true);
  }

  @SuppressWarnings("try") // the body is opened only to be closed
  private Optional<FileMeta> find(String repo, String revision, String path, boolean missingOk) {
    HttpResponse<InputStream> r = send(repo, revision, path, "HEAD", null, missingOk);
    if (r == null) {
      return Optional.empty();
    }
    try (InputStream ignored = r.body()) { // no content; closing it releases the connection
      Optional<String> sent = r.headers().firstValue("x-repo-commit");
      String commit = sent.orElse(HfPath.checkRevision(revision));
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
      // both name files in the cache: nothing but a plain name
      if (sent.isPresent() && !SAFE_NAME.matcher(commit).matches()
          || !SAFE_NAME.matcher(etag).matches()) {
        throw new SaeLabException(
            "the hub sent an unusable commit or ETag for " + repo + "/" + path);
      }
      return Optional.of(new FileMeta(commit, etag, size));
    } catch (NumberFormatException e) {
      throw new SaeLabException("the hub sent an unusable size for " + repo + "/" + path);
    } catch (IOException e) {
      throw new SaeLabException("reading " + repo + "/" + path + ": " + e.getMessage());
    }
  }

  /**
   * The cached file for {@code path} at {@code revision}, if a snapshot already holds it (no
   * network).
   */
  public Optional<Path> cached(String repo, String revision, String path) {
    HfPath.checkPath(path);
    HfPath.checkRevision(revision);
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
    HfPath.checkPath(path);
    HfPath.checkRevision(revision);
    return download(repo, revision, path, head(repo, revision, path));
  }

  /** {@link #download(String, String, String)} with the file's metadata already resolved. */
  Path download(String repo, String revision, String path, FileMeta meta) {
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

  /** Records that {@code revision} of {@code repo} is {@code commit} ({@code refs/{revision}}). */
  void ref(String repo, String revision, String commit) {
    try {
      writeRef(repoFolder(repo), revision, commit);
    } catch (IOException e) {
      throw new SaeLabException(
          "caching " + repo + " in " + repoFolder(repo) + ": " + e.getMessage());
    }
  }

  private void writeRef(Path folder, String revision, String commit) throws IOException {
    if (!revision.equals(commit)) {
      Path ref = folder.resolve("refs").resolve(revision);
      Files.createDirectories(ref.getParent());
      Files.writeString(ref, commit);
    }
  }

  /**
   * A progress line on the status stream for transfers of at least the status threshold: {@code
   * "\r{verb} {name}: x of y MB"}, at most twice a second, ending with a newline when {@code total}
   * is reached. Accepts byte counts.
   */
  LongConsumer statusLine(String verb, String name, long start, long total) {
    if (status == null || total < statusMinBytes || total <= 0) {
      return n -> {};
    }
    java.io.PrintStream out = status;
    long[] done = {start};
    long[] last = {0};
    return n -> {
      done[0] += n;
      long now = System.nanoTime();
      if (now - last[0] > 500_000_000L || done[0] == total) {
        last[0] = now;
        out.printf(
            Locale.ROOT,
            "\r%s %s: %.1f of %.1f MB%s",
            verb,
            name,
            done[0] / 1e6,
            total / 1e6,
            done[0] == total ? "\n" : "");
      }
    };
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
      HttpResponse<InputStream> r = send(repo, meta.commit(), path, "GET", range, false);
      boolean resumed = r.statusCode() == 206;
      LongConsumer outer = progress;
      LongConsumer line =
          statusLine("downloading", repo + "/" + path, resumed ? have : 0, meta.size());
      progress =
          n -> {
            outer.accept(n);
            line.accept(n);
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
        send(repo, revision, path, "GET", "bytes=" + from + "-" + (from + length - 1), false);
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

  /**
   * {@code {endpoint}/{repo}/resolve/{revision}/{path}}, the revision's slashes ({@code refs/pr/3})
   * and anything outside the URL's unreserved characters percent-encoded.
   */
  private String url(String repo, String revision, String path) {
    return endpoint + "/" + repo + "/resolve/" + encode(revision, false) + "/" + encode(path, true);
  }

  private static String encode(String s, boolean keepSlash) {
    StringBuilder out = new StringBuilder();
    for (byte b : s.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xff);
      if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || c == '-'
          || c == '.'
          || c == '_'
          || c == '~'
          || (keepSlash && c == '/')) {
        out.append(c);
      } else {
        out.append('%').append(String.format(Locale.ROOT, "%02X", b & 0xff));
      }
    }
    return out.toString();
  }

  /**
   * Sends a request for {@code repo/path} at {@code revision}, following redirects by hand (the
   * token goes only to the hub's own host). Every failure is one line: a repository or revision the
   * hub does not know ({@code X-Error-Code}), refused access (what to do about it), a missing file
   * (null instead when {@code missingOk}), another status, or the URL that could not be reached.
   */
  private HttpResponse<InputStream> send(
      String repo, String revision, String path, String method, String range, boolean missingOk) {
    URI uri = URI.create(url(repo, revision, path));
    String hubHost = URI.create(endpoint).getHost();
    String at = revision.equals("main") ? "" : "@" + revision;
    for (int hop = 0; hop < 6; hop++) {
      HttpRequest.Builder b =
          HttpRequest.newBuilder(uri)
              .timeout(Duration.ofMinutes(10))
              .method(method, HttpRequest.BodyPublishers.noBody())
              .header("User-Agent", "saelab");
      boolean hub = hubHost != null && hubHost.equals(uri.getHost());
      if (token != null && hub) {
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
                + uri.getRawAuthority()
                + uri.getRawPath()
                + " for "
                + repo
                + at
                + "/"
                + path
                + ": "
                + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.util.concurrent.CancellationException("download interrupted");
      }
      int s = r.statusCode();
      if (s >= 300 && s < 400 && r.headers().firstValue("location").isPresent()) {
        URI next = uri.resolve(r.headers().firstValue("location").get());
        if (method.equals("HEAD") && hub && !hubHost.equals(next.getHost())) {
          // the Hub answers HEAD for a large file with a redirect to its CDN that carries the
          // metadata (X-Repo-Commit, X-Linked-Etag, X-Linked-Size); the CDN knows none of it
          return r;
        }
        close(r);
        uri = next;
        continue;
      }
      String code = hub ? r.headers().firstValue("x-error-code").orElse("") : "";
      if (s >= 400 && code.equals("RepoNotFound")) {
        close(r);
        throw new SaeLabException(
            repo
                + ": no such repository on "
                + uri.getAuthority()
                + ", or it is private (HTTP "
                + s
                + "; "
                + (token == null
                    ? "no token was sent; a private repository needs a token in HF_TOKEN)"
                    : "the token sent has no access to it)"));
      }
      if (s == 404 && code.equals("RevisionNotFound")) {
        close(r);
        throw new SaeLabException(
            repo
                + " has no revision "
                + revision
                + " (HTTP 404 from "
                + uri.getAuthority()
                + "; a branch, tag or commit)");
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
        if (missingOk) {
          return null;
        }
        throw new SaeLabException(
            repo + at + " has no file " + path + " (HTTP 404 from " + uri.getAuthority() + ")");
      }
      if (s >= 400) {
        close(r);
        throw new SaeLabException(
            repo + at + "/" + path + ": HTTP " + s + " from " + uri.getAuthority());
      }
      return r;
    }
    throw new SaeLabException(repo + at + "/" + path + ": too many redirects");
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
