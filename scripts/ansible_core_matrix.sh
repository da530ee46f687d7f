#!/usr/bin/env bash
# The venvs of the older ansible-core minors `scripts/test.sh core-matrix` tests the collection with:
# one per `ansible-core==` pin of requirements-core-matrix.txt, with requirements-test.txt (what the
# unit and integration tests import), cached outside the checkout so reruns install nothing.
# Each venv is reinstalled only when its pin, requirements-test.txt or requirements.txt changes
# (a stamp, as in scripts/bootstrap.sh), holds the collection link the tests find the collection
# through (<venv>/collections/ansible_collections/cdcops/flink_cdc -> this checkout) and has the
# ansible-test pip stand-ins its ansible-core names (scripts/ansible_test_get_pip.sh).
#
# The venvs live in $CDCOPS_CORE_VENVS, by default
# ${XDG_CACHE_HOME:-~/.cache}/cdcops-flink-cdc/venvs/<checkout name>-<hash of its path>: one set per
# checkout, since each links its own checkout (two checkouts testing at once must not swap links).
#
# Usage: scripts/ansible_core_matrix.sh [MINOR...]   (default: every pin, oldest first)
# Prints one line per ansible-core, "<version> <venv>", once its venv is ready; logs go to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
MATRIX="$ROOT/requirements-core-matrix.txt"
checkout_id="$(basename "$ROOT")-$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)"
VENVS="${CDCOPS_CORE_VENVS:-${XDG_CACHE_HOME:-$HOME/.cache}/cdcops-flink-cdc/venvs/$checkout_id}"

log() { printf '[core-matrix] %s\n' "$*" >&2; }

# The pinned versions, oldest first.
pins() {
    sed -n 's/^ansible-core==\([0-9][0-9.]*\)[[:space:]]*$/\1/p' "$MATRIX" | sort -V
}

ensure_venv() {
    local version="$1" minor venv stamp want
    minor="${version%.*}"
    venv="$VENVS/ansible-core-$minor"
    if ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
        log "creating venv $venv"
        rm -rf "$venv"
        mkdir -p "$VENVS"
        "$PYTHON" -m venv "$venv"
    fi
    stamp="$venv/.requirements.sha256"
    want="$( { echo "ansible-core==$version"; cat "$ROOT/requirements-test.txt" "$ROOT/requirements.txt"; } \
        | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        log "installing ansible-core $version and requirements-test.txt into $venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check \
            -r "$ROOT/requirements-test.txt" "ansible-core==$version"
        echo "$want" >"$stamp"
    fi
    local coll="$venv/collections/ansible_collections/cdcops"
    mkdir -p "$coll"
    ln -sfn "$ROOT" "$coll/flink_cdc"
    "$ROOT/scripts/ansible_test_get_pip.sh" "$venv/bin/python"
    echo "$version $venv"
}

mapfile -t versions < <(pins)
[ ${#versions[@]} -gt 0 ] || { log "no ansible-core==X.Y.Z pin in $MATRIX"; exit 1; }
for minor in "$@"; do
    printf '%s\n' "${versions[@]%.*}" | grep -qxF "$minor" || { log "no ansible-core $minor pin in $MATRIX"; exit 2; }
done
for version in "${versions[@]}"; do
    if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -qxF "${version%.*}"; then
        ensure_venv "$version"
    fi
done
