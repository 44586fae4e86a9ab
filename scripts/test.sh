#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: Debian packages, ONNX Runtime and the models
# (fetched and checked against pinned sha256), the release build, then `cargo test --release`.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== every path named in README.md and docs/ exists"
bash scripts/check_doc_paths.sh

bash scripts/setup.sh
echo "== test-only dependencies (PulseAudio for the sound card tests; chromium, node, playwright-core for the browser tests)"
bash scripts/setup_test_deps.sh
echo "== llama-server (for the OpenAI-compatible backend's tests; built once, cached in target/)"
bash scripts/build_llama_server.sh
echo "== build (release: one optimised profile for the C++ engines and the tests)"
cargo build --release --all-targets
echo "== tests"
cargo test --release
