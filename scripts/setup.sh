#!/usr/bin/env bash
# One-time setup for a fresh Debian/Ubuntu machine:
#   1. Debian packages needed to build and test duplex (skipped when all are installed,
#      or when SETUP_SKIP_APT=1),
#   2. a check that Rust's cargo is on PATH,
#   3. the models, via scripts/fetch_models.py (idempotent: a second run only checks).
#
#   bash scripts/setup.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# libopus-dev: Opus for `duplex serve` (WebRTC), linked through pkg-config.
APT_PACKAGES=(cmake pkg-config libclang-dev libasound2-dev libespeak-ng-dev espeak-ng sox libopus-dev)

say() { printf '==> %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/apt_packages.sh
source "$repo/scripts/apt_packages.sh"

# ---------------------------------------------------------------- 1. Debian packages
if [[ "${SETUP_SKIP_APT:-0}" == "1" ]]; then
    say "Debian packages: skipped (SETUP_SKIP_APT=1)"
elif ! command -v dpkg-query >/dev/null 2>&1; then
    say "Debian packages: no dpkg-query here (not Debian/Ubuntu); install the equivalents of:"
    say "    ${APT_PACKAGES[*]}"
else
    mapfile -t missing < <(missing_debian_packages "${APT_PACKAGES[@]}")
    if [[ ${#missing[@]} -eq 0 ]]; then
        say "Debian packages: all ${#APT_PACKAGES[@]} present"
    else
        say "Debian packages: installing ${missing[*]}"
        install_debian_packages "${missing[@]}"
    fi
fi

# ---------------------------------------------------------------- 2. Rust toolchain
if ! command -v cargo >/dev/null 2>&1; then
    cat >&2 <<'EOF'
setup: error: cargo (Rust) was not found on PATH. Install it with rustup:
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh
    . "$HOME/.cargo/env"
then run `bash scripts/setup.sh` again.
EOF
    exit 1
fi
say "Rust: $(cargo --version)"

# ---------------------------------------------------------------- 3. models
command -v python3 >/dev/null 2>&1 || die "python3 is needed to fetch the models (apt-get install python3 python3-pip)"
python3 -m pip --version >/dev/null 2>&1 \
    || say "warning: python3 has no pip; files not yet cached cannot be downloaded (apt-get install python3-pip)"
say "Models: python3 scripts/fetch_models.py"
python3 scripts/fetch_models.py
say "Setup done. Models are in $repo/models (ORT_DYLIB_PATH=$repo/models/libonnxruntime.so.1.31.1)"
