#!/usr/bin/env bash
# Test-only dependencies (run by scripts/test.sh; idempotent: nothing is installed when all are
# present; SETUP_SKIP_APT=1 skips the Debian part):
#   Debian, for the desktop transport's sound card tests: a PulseAudio daemon and its tools for
#   the private virtual sound card (scripts/virtual_sound_card.sh), ALSA's PulseAudio plugin so
#   that cpal's ALSA default device reaches it;
#   Debian, for the browser tests and the WebRTC bench: chromium (the headless browser), nodejs +
#   npm (to drive it), iproute2 and util-linux (`ip`, `unshare`: a private loopback network);
#   npm: the pinned playwright-core in tests/browser (`npm ci` from its package-lock.json);
#   PyPI: mcp-server-time, the real MCP server tests/tools_mcp.rs talks to, and the official
#   openai package with its realtime extra (websockets), the Realtime client of
#   tests/realtime_openai.rs (python3 -m pip).
#
#   bash scripts/setup_test_deps.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

SOUND_PACKAGES=(pulseaudio pulseaudio-utils libasound2-plugins alsa-utils)

say() { printf '==> %s\n' "$*"; }
die() { printf 'setup_test_deps: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/apt_packages.sh
source "$repo/scripts/apt_packages.sh"

missing=()
if [[ "${SETUP_SKIP_APT:-0}" == "1" ]]; then
    say "test packages: skipped (SETUP_SKIP_APT=1)"
elif ! command -v dpkg-query >/dev/null 2>&1; then
    say "test packages: no dpkg-query here (not Debian/Ubuntu); install the equivalents of:"
    say "    ${SOUND_PACKAGES[*]} chromium nodejs npm iproute2 util-linux"
else
    mapfile -t missing < <(missing_debian_packages "${SOUND_PACKAGES[@]}")
    [[ -x /usr/bin/chromium ]] || missing+=(chromium)
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
    # A node from elsewhere (e.g. NodeSource, which bundles npm) is fine; Debian's otherwise.
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
if [[ ${#missing[@]} -gt 0 ]]; then
    say "test packages: installing ${missing[*]}"
    install_debian_packages "${missing[@]}"
else
    say "test packages: present"
fi

if python3 -c "import mcp_server_time" >/dev/null 2>&1; then
    say "mcp-server-time: installed"
else
    say "mcp-server-time: pip install (tests/tools_mcp.rs)"
    python3 -m pip install --quiet mcp-server-time==2026.10.19 \
        || die "pip install mcp-server-time failed (network to PyPI? a Python that refuses system-wide installs needs a virtual environment first)"
fi

OPENAI_PIN="2.8.1"
if python3 -c "import openai, websockets, sys; sys.exit(openai.__version__ != '$OPENAI_PIN')" >/dev/null 2>&1; then
    say "openai $OPENAI_PIN (realtime): installed"
else
    say "openai $OPENAI_PIN (realtime): pip install (tests/realtime_openai.rs)"
    python3 -m pip install --quiet "openai[realtime]==$OPENAI_PIN" \
        || die "pip install openai[realtime]==$OPENAI_PIN failed (network to PyPI? a Python that refuses system-wide installs needs a virtual environment first)"
fi

command -v node >/dev/null 2>&1 || die "node is missing: install nodejs (apt-get install -y nodejs npm)"
cd "$repo/tests/browser"
pinned="$(node -p "require('./package.json').dependencies['playwright-core']")"
installed="$(node -p "require('./node_modules/playwright-core/package.json').version" 2>/dev/null || true)"
if [[ "$installed" == "$pinned" ]]; then
    say "playwright-core: $installed installed"
else
    say "playwright-core: npm ci (tests/browser)"
    npm ci --no-audit --no-fund || die "npm ci failed in tests/browser (network to the npm registry?)"
fi
