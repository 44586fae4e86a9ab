#!/usr/bin/env bash
# Runs a command in a private network namespace with only loopback up, so the browser tests
# and the WebRTC bench never touch a real network:  run_in_netns.sh node scenario.mjs ...
# Where namespaces are not permitted (an unprivileged container), it says so and runs the
# command on the machine's own loopback (scenarios that take the network down need
# DUPLEX_IN_NETNS=1, set only inside the namespace, and refuse to run otherwise).
set -euo pipefail
if [[ "${1:-}" != "--inside" ]]; then
    command -v unshare >/dev/null || { echo "run_in_netns.sh: unshare not found (apt-get install util-linux)" >&2; exit 2; }
    # As root a new network namespace is enough; otherwise map to root in a user namespace.
    flags=(-n); [[ "$(id -u)" -eq 0 ]] || flags=(-r -n)
    if unshare "${flags[@]}" true 2>/dev/null; then
        exec unshare "${flags[@]}" "$0" --inside "$@"
    fi
    echo "run_in_netns.sh: network namespaces are not permitted here (unshare ${flags[*]}); using the shared loopback" >&2
    exec "$@"
fi
shift
command -v ip >/dev/null || { echo "run_in_netns.sh: ip not found (apt-get install iproute2)" >&2; exit 2; }
ip link set lo up
export DUPLEX_IN_NETNS=1
exec "$@"
