#!/usr/bin/env bash
# The venvs of the other ansible-core minors `scripts/test.sh core-matrix` tests the collection with:
# one per `ansible-core==` pin of requirements-core-matrix.txt, with requirements-test.txt (what the
# unit and integration tests import), cached outside the checkout so reruns install nothing.
# ansible-core 2.20 and newer run on a Python 3.12+ controller only (their package metadata,
# Requires-Python >=3.12; ansible-core changelogs/CHANGELOG-v2.20.rst, "Removed Features": Python 3.11
# controller support), so their venvs are made from Python 3.12 ($PYTHON312, else pyenv's 3.12, else
# python3.12 on PATH); the older ones from $PYTHON (python3, 3.11 here).
# Each venv is reinstalled only when its pin, its Python, requirements-test.txt or requirements.txt
# changes (a stamp, as in scripts/bootstrap.sh), holds the collection link the tests find the collection
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

# The first ansible-core minor whose controller needs Python 3.12 (see above).
PY312_FROM=2.20

# shellcheck source=scripts/find_python.sh
. "$ROOT/scripts/find_python.sh"

# The Python an ansible-core version's venv is made from.
python_for() {
    local minor="$1"
    if [ "$(printf '%s\n' "$PY312_FROM" "$minor" | sort -V | head -n1)" = "$PY312_FROM" ]; then
        find_python 3.12 "${PYTHON312:-}" || { log "ansible-core $minor needs Python 3.12 or newer: set PYTHON312, or install it (pyenv install 3.12)"; return 1; }
    else
        echo "$PYTHON"
    fi
}

# The pinned versions, oldest first.
pins() {
    sed -n 's/^ansible-core==\([0-9][0-9.]*\)[[:space:]]*$/\1/p' "$MATRIX" | sort -V
}

ensure_venv() {
    local version="$1" minor venv stamp want python python_version
    minor="${version%.*}"
    venv="$VENVS/ansible-core-$minor"
    python="$(python_for "$minor")"
    python_version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if ! [ "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$python_version" ]; then
        log "creating venv $venv (Python $python_version)"
        rm -rf "$venv"
        mkdir -p "$VENVS"
        "$python" -m venv "$venv"
    fi
    stamp="$venv/.requirements.sha256"
    want="$( { echo "python $python_version"; echo "ansible-core==$version"
               cat "$ROOT/requirements-test.txt" "$ROOT/requirements.txt"; } | sha256sum | cut -d' ' -f1)"
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
