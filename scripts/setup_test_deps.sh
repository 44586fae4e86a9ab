#!/usr/bin/env bash
# Test-only dependencies of the browser tests and the WebRTC bench (idempotent):
#   Debian: chromium (the headless browser), nodejs + npm (to drive it), iproute2 (`ip`, to bring
#   up loopback in the tests' private network namespace);
#   npm: the pinned playwright-core in tests/browser (`npm ci` from its package-lock.json).
#
#   bash scripts/setup_test_deps.sh        (SETUP_SKIP_APT=1 skips the Debian part)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { printf '==> %s\n' "$*"; }
die() { printf 'setup_test_deps: error: %s\n' "$*" >&2; exit 1; }

missing=()
if [[ "${SETUP_SKIP_APT:-0}" != "1" ]] && command -v dpkg-query >/dev/null 2>&1; then
    [[ -x /usr/bin/chromium ]] || missing+=(chromium)
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
    # A node from elsewhere (e.g. NodeSource, which bundles npm) is fine; Debian's otherwise.
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
if [[ ${#missing[@]} -gt 0 ]]; then
    sudo_cmd=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 \
            || die "missing Debian packages (${missing[*]}); as root run: apt-get install -y ${missing[*]}"
        sudo_cmd=(sudo)
    fi
    say "test packages: installing ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -q || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" \
        || die "apt-get install failed for: ${missing[*]}"
else
    say "test packages: chromium, node, npm, ip, unshare present"
fi

cd "$repo/tests/browser"
pinned="$(node -p "require('./package.json').dependencies['playwright-core']")"
installed="$(node -p "require('./node_modules/playwright-core/package.json').version" 2>/dev/null || true)"
if [[ "$installed" == "$pinned" ]]; then
    say "playwright-core: $installed installed"
else
    say "playwright-core: npm ci (tests/browser)"
    npm ci --no-audit --no-fund || die "npm ci failed in tests/browser (network to the npm registry?)"
fi
