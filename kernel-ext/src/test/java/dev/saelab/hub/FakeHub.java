package dev.saelab.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A local stand-in for the Hugging Face Hub and Neuronpedia's export bucket, serving the shipped
 * datasets in the Hub's URL layout ({@code /{org}/{name}/resolve/{rev}/{path}}): HEAD with
 * X-Repo-Commit / ETag / X-Linked-Etag / X-Linked-Size, Range requests (206), a redirect of large
 * files to a "CDN" on another host name (127.0.0.1 instead of localhost) — for HEAD too, the
 * metadata in the redirect as the Hub sends it, the CDN knowing no commit — 401 for the gated
 * repository without the right token, 404, a truncated body and a wrong hash. Repositories added
 * with {@link #serve} are folders served at named revisions, each with its own commit, and answer a
 * missing repository, revision or file with the Hub's {@code X-Error-Code}; {@code
 * datasets/ORG/NAME} repositories are served under {@code /datasets/}.
 */
final class FakeHub implements AutoCloseable {
  static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
  static final String TOKEN = "hf_test_secret_token";
  final HttpServer server;
  final List<String> log = Collections.synchronizedList(new ArrayList<>());
  final List<String> cdnAuth = Collections.synchronizedList(new ArrayList<>());
  private final Path data = TestFiles.datasets();

  /** A revision of a served repository. */
  private record Rev(String name, String commit, Path root) {}

  private final Map<String, List<Rev>> served = new java.util.concurrent.ConcurrentHashMap<>();

  FakeHub() throws IOException {
    server = HttpServer.create(new InetSocketAddress("localhost", 0), 0);
    server.createContext("/", this::handle);
    server.start();
  }

  String endpoint() {
    return "http://localhost:" + server.getAddress().getPort();
  }

  /**
   * Serves {@code root} as {@code repo} (e.g. {@code org/name} or {@code datasets/org/name}) at
   * {@code revision}, whose commit is {@code commit}; a request naming the commit gets it too.
   */
  FakeHub serve(String repo, String revision, String commit, Path root) {
    served
        .computeIfAbsent(repo, r -> new java.util.concurrent.CopyOnWriteArrayList<>())
        .add(new Rev(revision, commit, root));
    return this;
  }

  /** Repository → local folder; paths inside may be remapped. */
  private Path file(String repo, String path) {
    return switch (repo) {
      case "tiny/gemma2", "google/gemma-2-2b", "gated/model" ->
          data.resolve("tiny-gemma2").resolve(path);
      case "tiny/gpt2" -> data.resolve("tiny-gpt2").resolve(path);
      case "google/gemma-scope-2b-pt-res", "tiny/scope" ->
          path.endsWith("params.npz")
              ? data.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12/params.npz")
              : data.resolve("none");
      case "broken/truncated", "broken/hash" ->
          data.resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12").resolve(path);
      default -> data.resolve("none");
    };
  }

  private void handle(HttpExchange ex) throws IOException {
    String p = ex.getRequestURI().getPath();
    String range = ex.getRequestHeaders().getFirst("Range");
    log.add(ex.getRequestMethod() + " " + p + (range == null ? "" : " " + range));
    try (ex) {
      if (p.startsWith("/v1/")) {
        Path f = data.resolve("tiny-neuronpedia").resolve(p.substring(1));
        if (!Files.isRegularFile(f)) {
          ex.sendResponseHeaders(404, -1);
          return;
        }
        byte[] b = Files.readAllBytes(f);
        ex.sendResponseHeaders(200, b.length);
        ex.getResponseBody().write(b);
        return;
      }
      boolean cdn = p.startsWith("/cdn/");
      String rest = cdn ? p.substring(5) : p.substring(1);
      String kind = "";
      if (rest.startsWith("datasets/")) {
        kind = "datasets/";
        rest = rest.substring(kind.length());
      }
      String[] parts = rest.split("/", 5);
      if (parts.length < 5 || !parts[2].equals("resolve")) {
        ex.sendResponseHeaders(404, -1);
        return;
      }
      String repo = kind + parts[0] + "/" + parts[1];
      String revision =
          java.net.URLDecoder.decode(parts[3], java.nio.charset.StandardCharsets.UTF_8);
      String path = parts[4];
      rest = kind + rest;
      if (cdn) {
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        cdnAuth.add(auth == null ? "" : auth);
      }
      if (repo.startsWith("gated/") || repo.equals("google/gemma-2-2b")) {
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (!cdn && !("Bearer " + TOKEN).equals(auth)) {
          ex.sendResponseHeaders(401, -1);
          return;
        }
      }
      String commit = COMMIT;
      Path f;
      List<Rev> revs = served.get(repo);
      if (revs != null) {
        Rev rev =
            revs.stream()
                .filter(r -> r.name().equals(revision) || r.commit().equals(revision))
                .findFirst()
                .orElse(null);
        if (rev == null) {
          ex.getResponseHeaders().add("X-Error-Code", "RevisionNotFound");
          ex.sendResponseHeaders(404, -1);
          return;
        }
        commit = rev.commit();
        f = rev.root().resolve(path);
        if (!Files.isRegularFile(f)) {
          ex.getResponseHeaders().add("X-Error-Code", "EntryNotFound");
          ex.sendResponseHeaders(404, -1);
          return;
        }
      } else {
        f = file(repo, path);
        if (!Files.isRegularFile(f)) {
          if (repo.startsWith("missing/")) {
            ex.getResponseHeaders().add("X-Error-Code", "RepoNotFound");
            ex.sendResponseHeaders(401, -1);
            return;
          }
          ex.sendResponseHeaders(404, -1);
          return;
        }
      }
      byte[] b = Files.readAllBytes(f);
      boolean lfs = path.endsWith(".safetensors") || path.endsWith(".npz");
      var h = ex.getResponseHeaders();
      String sha = Hub.sha256(f);
      if (repo.equals("broken/hash")) {
        sha = "f".repeat(64);
      }
      if (cdn) {
        // the CDN knows nothing of commits or LFS ids, only its own ETag
        h.add("ETag", "\"cdn-" + sha.substring(0, 8) + "\"");
      } else {
        h.add("X-Repo-Commit", commit);
        if (lfs) {
          h.add("X-Linked-Etag", "\"" + sha + "\"");
          h.add("X-Linked-Size", Long.toString(b.length));
          h.add("ETag", "\"gitsha-" + b.length + "\"");
        } else {
          h.add("ETag", "\"" + sha.substring(0, 40) + "\"");
        }
      }
      h.add("Accept-Ranges", "bytes");
      if (lfs && !cdn) {
        // as the Hub does, for HEAD too: the metadata is in this answer, the bytes on the CDN
        h.add("Location", "http://127.0.0.1:" + server.getAddress().getPort() + "/cdn/" + rest);
        ex.sendResponseHeaders(302, -1);
        return;
      }
      if (ex.getRequestMethod().equals("HEAD")) {
        h.add("Content-Length", Long.toString(b.length));
        ex.sendResponseHeaders(200, -1);
        return;
      }
      int from = 0;
      int to = b.length - 1;
      int status = 200;
      if (range != null) {
        String[] r = range.replace("bytes=", "").split("-", -1);
        from = Integer.parseInt(r[0]);
        to = r[1].isEmpty() ? b.length - 1 : Math.min(b.length - 1, Integer.parseInt(r[1]));
        status = 206;
        h.add("Content-Range", "bytes " + from + "-" + to + "/" + b.length);
      }
      int len = to - from + 1;
      ex.sendResponseHeaders(status, len);
      OutputStream os = ex.getResponseBody();
      if (repo.equals("broken/truncated")) {
        os.write(b, from, len / 2);
        os.flush();
        return;
      }
      os.write(b, from, len);
    } catch (RuntimeException e) {
      ex.sendResponseHeaders(500, -1);
    }
  }

  /** Requests whose line contains {@code s}. */
  long count(String s) {
    synchronized (log) {
      return log.stream().filter(l -> l.contains(s)).count();
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }

  static Map<String, String> props(FakeHub hub, Path cache, String token) {
    return Map.of(
        "saelab.HF_ENDPOINT",
        hub.endpoint(),
        "saelab.HF_HUB_CACHE",
        cache.toString(),
        "saelab.HF_TOKEN",
        token,
        "saelab.NEURONPEDIA_DATASETS_URL",
        hub.endpoint());
  }
}
