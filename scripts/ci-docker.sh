#!/usr/bin/env bash
# A Docker engine for the container backend on CI machines and sandboxes that have none running.
#
#   bash scripts/ci-docker.sh start    install docker.io if needed, start dockerd, wait for it,
#                                      build harness/redis:<version> images from the local binaries
#   bash scripts/ci-docker.sh build    only (re)build the images
#   bash scripts/ci-docker.sh status   say whether an engine answers and which images exist
#   bash scripts/ci-docker.sh stop     remove harness containers; stop dockerd if this script started it
#
# Exit status of `start`: 0 when an engine answers (and the images were built), 1 when no engine
# could be started (the log tail says why) - callers run the container suites only on 0.
#
# Why these dockerd flags: sandboxes and CI containers often cannot program iptables or create
# the docker0 bridge, and the harness needs neither (containers use the host network, everything
# on 127.0.0.1). The storage driver is tried in order overlay2, fuse-overlayfs, vfs: overlay2 is
# fast, vfs works everywhere (it copies layers, fine for our ~20 MB scratch images).
#
# Settings (environment): HARNESS_DOCKERD_WAIT (seconds, default 60), HARNESS_DOCKER_DATA_ROOT
# (default /var/lib/docker), HARNESS_DOCKER_STORAGE_DRIVERS (default "overlay2 fuse-overlayfs vfs"),
# HARNESS_DOCKERD_LOG (default /tmp/harness-dockerd.log), PYTHON (default python3).

set -uo pipefail

PIDFILE=/var/run/harness-dockerd.pid   # only a dockerd started by this script writes here
LOG=${HARNESS_DOCKERD_LOG:-/tmp/harness-dockerd.log}
DATA_ROOT=${HARNESS_DOCKER_DATA_ROOT:-/var/lib/docker}
WAIT=${HARNESS_DOCKERD_WAIT:-60}
DRIVERS=${HARNESS_DOCKER_STORAGE_DRIVERS:-overlay2 fuse-overlayfs vfs}
PYTHON=${PYTHON:-python3}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { echo "ci-docker: $*"; }

engine_answers() {
    command -v docker >/dev/null 2>&1 && timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

install_docker() {
    if command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        say "dockerd is not installed and installing docker.io needs root"
        return 1
    fi
    say "installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -q >/dev/null 2>&1 || say "apt-get update failed; trying the install anyway"
    if ! timeout 600 apt-get install -y -q docker.io >>"$LOG" 2>&1; then
        say "apt-get install docker.io failed (see $LOG)"
        return 1
    fi
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

start_dockerd() {
    local driver pid deadline
    for driver in $DRIVERS; do
        if [ "$driver" = fuse-overlayfs ] && ! command -v fuse-overlayfs >/dev/null 2>&1; then
            continue
        fi
        say "starting dockerd (storage driver $driver, log $LOG)"
        echo "=== $(date -u +%FT%TZ) dockerd --storage-driver=$driver" >>"$LOG"
        setsid dockerd \
            --iptables=false --ip6tables=false --bridge=none \
            --storage-driver="$driver" --data-root="$DATA_ROOT" \
            --pidfile="$PIDFILE" -H unix:///var/run/docker.sock \
            </dev/null >>"$LOG" 2>&1 &
        pid=$!
        deadline=$((SECONDS + WAIT))
        while [ $SECONDS -lt $deadline ]; do
            if engine_answers; then
                say "engine up: Docker $(docker version --format '{{.Server.Version}}' 2>/dev/null), driver $driver"
                return 0
            fi
            if ! pid_alive "$pid"; then
                break
            fi
            sleep 0.5
        done
        if pid_alive "$pid"; then
            say "dockerd ($driver) did not answer within ${WAIT}s; stopping it"
            kill -TERM "$pid" 2>/dev/null
            sleep 2
            pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
        else
            say "dockerd ($driver) exited:"
        fi
        tail -n 5 "$LOG" | sed 's/^/    /'
        rm -f "$PIDFILE"
        if mountpoint -q "$DATA_ROOT" 2>/dev/null && ! pgrep -x dockerd >/dev/null 2>&1; then
            umount "$DATA_ROOT" 2>/dev/null || true
        fi
    done
    return 1
}

build_images() {
    say "building harness images from the local redis-server binaries"
    (cd "$REPO" && timeout 600 "$PYTHON" -m harness images build)
}

cmd_start() {
    if engine_answers; then
        say "a Docker engine already answers; not starting another"
    else
        install_docker || return 1
        if ! start_dockerd; then
            say "no Docker engine could be started here; the container backend will be skipped"
            return 1
        fi
    fi
    build_images
}

cmd_stop() {
    if engine_answers; then
        local ids
        ids=$(docker ps -aq --filter label=harness.session 2>/dev/null)
        if [ -n "$ids" ]; then
            say "removing leftover harness containers: $(echo $ids)"
            # shellcheck disable=SC2086
            docker rm -f $ids >/dev/null 2>&1
        fi
    fi
    if [ ! -f "$PIDFILE" ]; then
        say "no dockerd started by this script; nothing to stop"
        return 0
    fi
    local pid deadline
    pid=$(cat "$PIDFILE")
    if pid_alive "$pid"; then
        say "stopping dockerd (pid $pid)"
        kill -TERM "$pid"
        deadline=$((SECONDS + 30))
        while pid_alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
        if pid_alive "$pid"; then
            say "dockerd ignored SIGTERM for 30 s; killing it"
            kill -KILL "$pid"
        fi
    fi
    rm -f "$PIDFILE"
    # dockerd makes its data root a private mount and leaves it behind when it dies early, and
    # leaves its default network namespace mounted even after a clean stop.
    if ! pgrep -x dockerd >/dev/null 2>&1; then
        if mountpoint -q "$DATA_ROOT" 2>/dev/null; then
            umount "$DATA_ROOT" 2>/dev/null || true
        fi
        for ns in /run/docker/netns/*; do
            [ -e "$ns" ] && umount "$ns" 2>/dev/null
        done
    fi
}

cmd_status() {
    if engine_answers; then
        say "engine: Docker $(docker version --format '{{.Server.Version}}')"
        (cd "$REPO" && "$PYTHON" -m harness images list)
    else
        say "no Docker engine answers"
        return 1
    fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    build) build_images ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|build|status" >&2; exit 2 ;;
esac
