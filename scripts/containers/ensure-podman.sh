#!/usr/bin/env bash
# Podman with a Docker-compatible API, for the container tier: installs Debian's podman (and
# runc, debootstrap for the base image) when missing, then starts `podman system service` on
# $MLCYCLE_PODMAN_SOCKET unless it already answers. The docker CLI, the docker Python SDK and
# kfp's DockerRunner talk to it through DOCKER_HOST (scripts/containers/env.sh).
set -euo pipefail
source "$(dirname "$0")/env.sh"

missing=()
for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "installing Debian's ${missing[*]} for the container tier (~30 s)"
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq podman runc debootstrap uidmap >/dev/null
fi

answers() { curl -sf --max-time 2 --unix-socket "$MLCYCLE_PODMAN_SOCKET" http://d/_ping >/dev/null; }
if ! answers; then
  mkdir -p "$(dirname "$MLCYCLE_PODMAN_SOCKET")"
  rm -f "$MLCYCLE_PODMAN_SOCKET"
  # --time=0: no idle timeout; it runs until the machine (or CI's clean-up) ends it.
  nohup podman system service --time=0 "unix://$MLCYCLE_PODMAN_SOCKET" \
    >"$(dirname "$MLCYCLE_PODMAN_SOCKET")/service.log" 2>&1 &
  for _ in $(seq 50); do answers && break; sleep 0.2; done
  answers || { echo "podman's API did not answer on $MLCYCLE_PODMAN_SOCKET; see $(dirname "$MLCYCLE_PODMAN_SOCKET")/service.log" >&2; exit 1; }
fi
echo "podman $(podman --version | awk '{print $3}') answers on $DOCKER_HOST"
