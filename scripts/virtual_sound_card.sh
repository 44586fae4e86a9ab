#!/usr/bin/env bash
# A private virtual sound card on PulseAudio for the desktop tests and benches: a daemon of its
# own (its socket in DIR, so it clashes with no other daemon or test), a null sink `vmic` whose
# monitor is the default source (the "microphone": play into vmic) and a null sink `vspk` as
# the default sink (the "speakers": record from vspk.monitor). ALSA's default device reaches it
# through libasound2-plugins when PULSE_SERVER points at the socket.
#
#   bash scripts/virtual_sound_card.sh start DIR   # prints: export PULSE_SERVER=unix:DIR/run/native
#   bash scripts/virtual_sound_card.sh stop DIR
#
# Needs: pulseaudio pulseaudio-utils libasound2-plugins (bash scripts/setup_test_deps.sh).
set -euo pipefail

cmd="${1:-}"
dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

case "$cmd" in
start)
    command -v pulseaudio >/dev/null 2>&1 \
        || { echo "pulseaudio is not installed: run bash scripts/setup_test_deps.sh" >&2; exit 3; }
    mkdir -p "$dir/state" "$dir/run"
    export PULSE_RUNTIME_PATH="$dir/run" PULSE_STATE_PATH="$dir/state" HOME="$dir"
    export PULSE_SERVER="unix:$dir/run/native"
    pulseaudio --daemonize=yes --use-pid-file=yes --exit-idle-time=-1 -n \
        --log-target="file:$dir/pulse.log" \
        --load="module-native-protocol-unix auth-anonymous=1 socket=$dir/run/native" \
        --load="module-null-sink sink_name=vmic" \
        --load="module-null-sink sink_name=vspk" \
        --load="module-always-sink" 2>>"$dir/pulse.stderr"
    for _ in $(seq 50); do
        pactl info >/dev/null 2>&1 && break
        sleep 0.1
    done
    pactl set-default-source vmic.monitor
    pactl set-default-sink vspk
    echo "export PULSE_SERVER=unix:$dir/run/native"
    ;;
stop)
    if [[ -f "$dir/run/pid" ]]; then
        kill "$(cat "$dir/run/pid")" 2>/dev/null || true
    fi
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
