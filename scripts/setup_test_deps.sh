#!/usr/bin/env bash
# Debian packages the desktop transport's tests and benches need besides the build's (run by
# scripts/test.sh; idempotent: nothing is installed when all are present, or when
# SETUP_SKIP_APT=1): a PulseAudio daemon and its tools for the private virtual sound card
# (scripts/virtual_sound_card.sh), and ALSA's PulseAudio plugin so that cpal's ALSA default
# device reaches it.
#
#   bash scripts/setup_test_deps.sh
set -euo pipefail

TEST_APT_PACKAGES=(pulseaudio pulseaudio-utils libasound2-plugins alsa-utils)

say() { printf '==> %s\n' "$*"; }
die() { printf 'setup_test_deps: error: %s\n' "$*" >&2; exit 1; }

if [[ "${SETUP_SKIP_APT:-0}" == "1" ]]; then
    say "test packages: skipped (SETUP_SKIP_APT=1)"
    exit 0
fi
if ! command -v dpkg-query >/dev/null 2>&1; then
    say "test packages: no dpkg-query here (not Debian/Ubuntu); install the equivalents of:"
    say "    ${TEST_APT_PACKAGES[*]}"
    exit 0
fi
missing=()
for p in "${TEST_APT_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
    [[ "$status" == ii* ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    say "test packages: all ${#TEST_APT_PACKAGES[@]} present"
    exit 0
fi
sudo_cmd=()
if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 \
        || die "missing Debian packages (${missing[*]}) and not root, and there is no sudo: install them as root: apt-get install -y ${missing[*]}"
    sudo_cmd=(sudo)
fi
say "test packages: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -q || die "apt-get update failed (network or sources.list?)"
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
