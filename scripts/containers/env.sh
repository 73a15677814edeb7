# Sourced by the container tier's scripts: where podman's Docker-compatible socket lives and
# which settings it runs with. Override MLCYCLE_PODMAN_SOCKET to use another socket.
MLCYCLE_CONTAINERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$MLCYCLE_CONTAINERS_DIR/containers.conf}
export MLCYCLE_PODMAN_SOCKET=${MLCYCLE_PODMAN_SOCKET:-/run/mlcycle-podman/podman.sock}
export DOCKER_HOST=unix://$MLCYCLE_PODMAN_SOCKET
