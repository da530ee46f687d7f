#!/usr/bin/env bash
# One-stop set-up for a fresh machine: system packages (only when missing),
# the project venv, the collection link and the ansible-test pip stand-in.
# Safe to rerun: every step checks before it acts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CDCOPS_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

apt_install() {
    log "installing with apt: $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

java_major() {
    command -v java >/dev/null 2>&1 || { echo 0; return; }
    java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1
}

# Flink 1.20 runs on Java 11 or 17 (FACTS.md, "Flink runtime / Java").
if [ "$(java_major)" -lt 11 ]; then
    apt_install openjdk-17-jre-headless
fi

# The test bed's PostgreSQL comes from Debian's server package.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt_install postgresql
fi

# The HA bed (tests/bed/bed.py up --ha) runs the ZooKeeper of Debian's package.
if [ ! -f /usr/share/java/zookeeper.jar ]; then
    apt_install zookeeper
fi

# ansible-test sanity runs shellcheck on the scripts; without it the test is skipped.
if ! command -v shellcheck >/dev/null 2>&1; then
    apt_install shellcheck
fi

# The bed compiles a tiny streaming job (javac, jar) so it can have running jobs.
if ! command -v javac >/dev/null 2>&1; then
    apt_install openjdk-17-jdk-headless
fi

# The bed and the tests fetch the real connector jars (and the SQL gateway jar) from Maven
# Central with mvn, once, into ~/.m2 (tests/bed/artifacts.py).
if ! command -v mvn >/dev/null 2>&1; then
    apt_install maven
fi

if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv $VENV"
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when a requirement file changes. requirements-dev.txt (the test tools' pins)
# includes requirements.txt (what the plugins import, for execution environments); the stamp
# hashes every requirements*.txt, so a file added beside them is covered too.
stamp="$VENV/.requirements.sha256"
want="$(cat "$ROOT"/requirements*.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing Python packages into $VENV"
    "$VENV/bin/python" -m pip install -q -r "$ROOT/requirements-dev.txt"
    echo "$want" >"$stamp"
fi

# Ansible finds the collection through this link (ANSIBLE_COLLECTIONS_PATH).
coll="$VENV/collections/ansible_collections/cdcops"
mkdir -p "$coll"
ln -sfn "$ROOT" "$coll/flink_cdc"

# ansible-test bootstraps pip in its venvs with a get-pip script downloaded from a host this
# machine cannot reach; it first looks in a cache, where this writes a stand-in for every pip
# version this ansible-core names (scripts/test.sh core-matrix does the same for each older one).
"$ROOT/scripts/ansible_test_get_pip.sh" "$VENV/bin/python"

log "ready: $VENV"
