# Sourced by scripts/setup.sh and scripts/setup_test_deps.sh: the Debian package steps they share.
# Each caller defines `say` and `die`.

# Prints the packages among "$@" that are not installed.
missing_debian_packages() {
    local p status
    for p in "$@"; do
        status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
        [[ "$status" == ii* ]] || printf '%s\n' "$p"
    done
}

# Installs the Debian packages "$@" (as root, or through sudo), after one `apt-get update`.
install_debian_packages() {
    local sudo_cmd=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 \
            || die "missing Debian packages ($*) and not root, and there is no sudo: install them as root: apt-get install -y $*"
        sudo_cmd=(sudo)
    fi
    "${sudo_cmd[@]}" apt-get update -q || die "apt-get update failed (network or sources.list?)"
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q "$@" \
        || die "apt-get install failed for: $*"
}
