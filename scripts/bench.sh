#!/usr/bin/env bash
# The performance benchmark (`make bench`): the flink_cdc role's deploy phase
# against the plain get_url playbook at 1, 8, 24 and 48 hosts, repository
# traffic, tasks per host, bench/jar_bench.py's module figures, and bench/role_bench.py's full role against
# a hand-written playbook on real TaskManagers of a private bed (--skip-role-bench leaves it out).
# Writes bench/out/bench.json and bench/out/bench.png and prints a table.
# Usage: scripts/bench.sh [bench/bench.py options], e.g. --hosts 1,8 --skip-module-bench
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CDCOPS_VENV:-$ROOT/.venv}"

# Sets up a fresh machine (venv, pinned packages including matplotlib, collection link).
"$ROOT/scripts/bootstrap.sh"

export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$VENV/collections"
cd "$ROOT"
exec "$VENV/bin/python" bench/bench.py "$@"
