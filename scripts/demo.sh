#!/usr/bin/env bash
# The README's demo: start the local sandbox and run the collection's main job against it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CDCOPS_VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$VENV/collections"
export ANSIBLE_NOCOLOR="${ANSIBLE_NOCOLOR:-}"
cd "$ROOT"

python tests/bed/bed.py up
inventory="${CDCOPS_BED_DIR:-$ROOT/tests/output/bed}/inventory.ini"
echo
echo "==== ansible-playbook cdcops.flink_cdc.cluster_info -i $inventory"
ansible-playbook cdcops.flink_cdc.cluster_info -i "$inventory"
echo
echo "The sandbox keeps running; stop it with: make bed-down"
