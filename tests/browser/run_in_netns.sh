#!/usr/bin/env bash
# Runs a command in a private network namespace with only loopback up, so the browser tests
# and the WebRTC bench never touch a real network:  run_in_netns.sh node scenario.mjs ...
set -euo pipefail
if [[ "${1:-}" != "--inside" ]]; then
    command -v unshare >/dev/null || { echo "run_in_netns.sh: unshare not found (apt-get install util-linux)" >&2; exit 2; }
    # As root a new network namespace is enough; otherwise map to root in a user namespace.
    flags=(-n); [[ "$(id -u)" -eq 0 ]] || flags=(-r -n)
    exec unshare "${flags[@]}" "$0" --inside "$@"
fi
shift
command -v ip >/dev/null || { echo "run_in_netns.sh: ip not found (apt-get install iproute2)" >&2; exit 2; }
ip link set lo up
exec "$@"
