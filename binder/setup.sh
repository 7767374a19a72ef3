#!/bin/bash
# Binder image build for SAE Lab (run by binder/postBuild; CI runs the offline part of it, see NotebooksIT).
#  1. build kernel-ext/target/saelab.jar and its lib/ (skipped with SAELAB_SKIP_BUILD=1 when already built)
#  2. fetch the JJava 1.0-a6 kernelspec release zip (Binder has the internet; SAELAB_JJAVA_DIR=DIR uses an unzipped
#     kernelspec instead, which is what the offline CI check does)
#  3. install it as the kernelspec "java" under PREFIX (SAELAB_PREFIX, default the Python environment's prefix)
#  4. write the kernel's environment with `saelab kernel install`: JJAVA_CLASSPATH = our jar and its dependencies (so
#     JJava loads the SAE Lab extension at start-up and notebooks need no %maven), JJAVA_JVM_OPTS sized for Binder's ~2 GB
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${SAELAB_PREFIX:-$(python3 -c 'import sys; print(sys.prefix)')}"
jjava_version="1.0-a6"

if [ "${SAELAB_SKIP_BUILD:-0}" != "1" ]; then
  (cd "$repo" && mvn -q -B -ntp package -DskipTests)
fi
jar="$repo/kernel-ext/target/saelab.jar"
[ -f "$jar" ] || { echo "setup.sh: $jar is missing (build failed?)" >&2; exit 1; }

if [ -n "${SAELAB_JJAVA_DIR:-}" ]; then
  kdir="$SAELAB_JJAVA_DIR"
else
  tmp="$(mktemp -d)"
  curl -fsSL -o "$tmp/jjava.zip" \
    "https://github.com/dflib/jjava/releases/download/$jjava_version/jjava-$jjava_version-kernelspec.zip"
  unzip -q "$tmp/jjava.zip" -d "$tmp/jjava"
  kdir="$(dirname "$(find "$tmp/jjava" -name kernel.json | head -1)")"
fi
[ -f "$kdir/kernel.json" ] || { echo "setup.sh: no kernel.json in $kdir" >&2; exit 1; }

jupyter kernelspec install "$kdir" --name=java --prefix "$prefix" >/dev/null
spec="$prefix/share/jupyter/kernels/java/kernel.json"

# Memory: ~2 GB per Binder user. Heap 700 MB, ND4J off-heap capped at 900 MB (JavaCPP maxbytes / maxphysicalbytes).
jvm_opts="-Xmx700m -Dorg.bytedeco.javacpp.maxbytes=900m -Dorg.bytedeco.javacpp.maxphysicalbytes=1700m -XX:+UseSerialGC"

# The kernel's environment, as `saelab kernel install` writes it for any user: JJAVA_CLASSPATH = the jar, then every
# dependency jar, explicitly; JJAVA_JVM_OPTS = SAE Lab's JVM options (the Vector API, headless AWT), then ours.
java -jar "$jar" kernel install --kernelspec java --jupyter-dir "$prefix/share/jupyter" --jvm-opts "$jvm_opts"
echo "installed kernelspec java with SAE Lab at $spec"
