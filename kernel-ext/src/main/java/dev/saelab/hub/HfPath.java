package dev.saelab.hub;

import java.util.regex.Pattern;

/**
 * A file or folder on the Hub, as {@code huggingface_hub}'s file system names it: {@code
 * hf://ORG/REPO[@REV][/PATH]} for a model repository, {@code hf://datasets/ORG/REPO[@REV][/PATH]}
 * for a dataset ({@code hf://models/…} is also accepted). {@code REV} is a branch, tag or commit
 * ({@code main} when absent); a revision with a slash is written with {@code %2F}, as in {@code
 * @refs%2Fpr%2F3}. {@code PATH} has no empty, {@code .} or {@code ..} segments, so it never leaves
 * the cache folder it is stored under.
 *
 * @param repo {@code ORG/REPO}, or {@code datasets/ORG/REPO}
 * @param revision branch, tag or commit
 * @param path a path inside the repository without leading or trailing slashes; empty for the root
 */
public record HfPath(String repo, String revision, String path) {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
  static final String SYNTAX =
      "expected hf://ORG/REPO[@REV]/PATH, or hf://datasets/ORG/REPO[@REV]/PATH for a dataset";

  /** Checks the parts (see the class comment). */
  public HfPath {
    String r = repo.startsWith("datasets/") ? repo.substring("datasets/".length()) : repo;
    String[] rp = r.split("/", -1);
    if (rp.length != 2 || !NAME.matcher(rp[0]).matches() || !NAME.matcher(rp[1]).matches()) {
      throw new IllegalArgumentException("repository '" + repo + "': " + SYNTAX);
    }
    revision = checkRevision(revision);
    path = checkPath(path);
  }

  /** Parses {@code hf://…}. */
  public static HfPath parse(String spec) {
    if (!spec.startsWith("hf://")) {
      throw new IllegalArgumentException(spec + ": " + SYNTAX);
    }
    String s = spec.substring("hf://".length());
    String prefix = "";
    if (s.startsWith("datasets/")) {
      prefix = "datasets/";
      s = s.substring(prefix.length());
    } else if (s.startsWith("models/")) {
      s = s.substring("models/".length());
    } else if (s.startsWith("spaces/")) {
      throw new IllegalArgumentException(spec + ": Spaces are not supported; " + SYNTAX);
    }
    String[] parts = s.split("/", 3);
    if (parts.length < 2 || parts[1].isEmpty()) {
      throw new IllegalArgumentException(spec + ": " + SYNTAX);
    }
    String name = parts[1];
    String revision = "main";
    int at = name.indexOf('@');
    if (at >= 0) {
      revision = name.substring(at + 1).replace("%2F", "/").replace("%2f", "/");
      name = name.substring(0, at);
      if (revision.isEmpty()) {
        throw new IllegalArgumentException(spec + ": empty revision after @; " + SYNTAX);
      }
    }
    String path = parts.length == 3 ? parts[2].replaceAll("/+$", "") : "";
    try {
      return new HfPath(prefix + parts[0] + "/" + name, revision, path);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(spec + ": " + e.getMessage());
    }
  }

  /** Whether this names a dataset repository. */
  public boolean dataset() {
    return repo.startsWith("datasets/");
  }

  /** {@code PATH/name}, or {@code name} at the root. */
  public String child(String name) {
    return path.isEmpty() ? name : path + "/" + name;
  }

  /** The last segment of the path (empty at the root). */
  public String name() {
    return path.substring(path.lastIndexOf('/') + 1);
  }

  /** The folder holding {@link #path} (empty at the root). */
  public String parent() {
    int slash = path.lastIndexOf('/');
    return slash < 0 ? "" : path.substring(0, slash);
  }

  /** The same repository and revision at another path. */
  public HfPath at(String otherPath) {
    return new HfPath(repo, revision, otherPath);
  }

  @Override
  public String toString() {
    return "hf://"
        + repo
        + (revision.equals("main") ? "" : "@" + revision.replace("/", "%2F"))
        + (path.isEmpty() ? "" : "/" + path);
  }

  /** A path inside a repository: relative, no empty, {@code .} or {@code ..} segments. */
  static String checkPath(String path) {
    if (path.isEmpty()) {
      return path;
    }
    if (path.contains("\\") || path.contains("\0")) {
      throw new IllegalArgumentException("path '" + path + "' has a backslash or NUL");
    }
    for (String seg : path.split("/", -1)) {
      if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) {
        throw new IllegalArgumentException(
            "path '" + path + "' must be relative, without empty, '.' or '..' segments");
      }
    }
    return path;
  }

  /** A branch, tag, commit or {@code refs/pr/N}: no empty, {@code .} or {@code ..} segments. */
  static String checkRevision(String revision) {
    if (revision == null || revision.isEmpty()) {
      throw new IllegalArgumentException("empty revision");
    }
    if (revision.contains("\\") || revision.contains("\0")) {
      throw new IllegalArgumentException("revision '" + revision + "' has a backslash or NUL");
    }
    for (String seg : revision.split("/", -1)) {
      if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) {
        throw new IllegalArgumentException(
            "revision '" + revision + "' has an empty, '.' or '..' segment");
      }
    }
    return revision;
  }
}
