#!/usr/bin/env bash
# The README's demo: start the local sandbox and run the collection's main job, the
# cdcops.flink_cdc.deploy playbook, against it: preflight, deploy of the real connector jars from the
# sandbox's Maven repository, rolling restart (TaskManagers, then the JobManager), the smoke job, verify.
# Then it changes a row in PostgreSQL and shows it arrive in the sink, and upgrades the pipeline through a
# savepoint. It prints the deploy's readiness report, which shows how each host is restarted (its command as it runs
# there), the jars installed on each host, and ends with the smoke job's and the pipeline's rows; then the upgrade's.
#
# The sandbox is a bed of its own: directory tests/output/demo-bed ($CDCOPS_DEMO_BED_DIR), its own ports (below,
# unless $CDCOPS_BED_*_PORT set them) and the newest Flink for which the loopback repository serves both connectors,
# postgres-cdc and StarRocks, and the JDBC sink (`bed.py demo-flink`: 1.19.3, since the registry here refuses the
# StarRocks builds for Flink 1.20). So `make demo` and `make test` (whose bed is tests/output/bed, Flink 1.20.3, the
# default ports) never share a directory, a port or a recorded Flink version: either runs first, or both at once.
# Usage: scripts/demo.sh | scripts/demo.sh down   (down: stop the demo's sandbox; `make bed-down` runs it too)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CDCOPS_VENV:-$ROOT/.venv}"
export CDCOPS_BED_DIR="${CDCOPS_DEMO_BED_DIR:-$ROOT/tests/output/demo-bed}"
export CDCOPS_BED_REST_PORT="${CDCOPS_BED_REST_PORT:-18082}"
export CDCOPS_BED_JM_RPC_PORT="${CDCOPS_BED_JM_RPC_PORT:-16124}"
export CDCOPS_BED_PG_PORT="${CDCOPS_BED_PG_PORT:-15452}"
export CDCOPS_BED_PG_REPLICA_PORT="${CDCOPS_BED_PG_REPLICA_PORT:-15453}"
export CDCOPS_BED_MAVEN_PORT="${CDCOPS_BED_MAVEN_PORT:-18902}"
export CDCOPS_BED_ZK_PORT="${CDCOPS_BED_ZK_PORT:-12182}"
BED="$CDCOPS_BED_DIR"
export PATH="$VENV/bin:$PATH"
# CDCOPS_COLLECTIONS_PATH: a collections path whose cdcops/flink_cdc is this checkout (a git worktree), as for the tests.
export ANSIBLE_COLLECTIONS_PATH="${CDCOPS_COLLECTIONS_PATH:-$VENV/collections}"
cd "$ROOT"

if [ "${1:-}" = down ]; then
    # Nothing to stop where no demo ever ran.
    [ -f "$BED/state.json" ] && python tests/bed/bed.py down
    exit 0
fi

flink="$(python tests/bed/bed.py demo-flink)"
python tests/bed/bed.py up --flink "$flink"
inventory="$BED/inventory.ini"
echo
echo "==== ansible-playbook cdcops.flink_cdc.cluster_info -i $inventory   (the cluster: version, TaskManagers, slots, jobs)"
ansible-playbook cdcops.flink_cdc.cluster_info -i "$inventory"
echo
# The demo switches on what a production run opts into: the rolling restart, the smoke job, and a CDC pipeline
# (the sandbox's tables into its sink database through the JDBC connector, which the deploy installs too).
demo_vars=(-e flink_cdc_restart=rolling -e flink_cdc_smoke=true -e "@$BED/demo_pipeline.yml")
echo "==== ansible-playbook cdcops.flink_cdc.deploy -i $inventory ${demo_vars[*]} --check --diff   (dry run)"
ansible-playbook cdcops.flink_cdc.deploy -i "$inventory" "${demo_vars[@]}" --check --diff
echo
echo "==== ansible-playbook cdcops.flink_cdc.deploy -i $inventory ${demo_vars[*]}"
ansible-playbook cdcops.flink_cdc.deploy -i "$inventory" "${demo_vars[@]}"
echo
echo "==== the pipeline streams: a row changed in PostgreSQL arrives in the sink"
python tests/bed/demo_change.py
echo
echo "==== ansible-playbook cdcops.flink_cdc.deploy -i $inventory ... -e flink_cdc_pipeline_checkpoint_interval=10s --tags flink_cdc_pipeline,flink_cdc_verify"
echo "     (a changed pipeline setting: the job is upgraded through a savepoint)"
# Its report goes beside the deploy's, which it would otherwise replace with its few rows.
ansible-playbook cdcops.flink_cdc.deploy -i "$inventory" "${demo_vars[@]}" -e flink_cdc_pipeline_checkpoint_interval=10s \
    -e "flink_cdc_report_dir=$BED/report-upgrade" --tags flink_cdc_pipeline,flink_cdc_verify
python tests/bed/demo_change.py
echo
echo "==== readiness report of the deploy: $BED/report/flink_cdc_report.md"
cat "$BED/report/flink_cdc_report.md"
echo
echo "==== readiness report of the pipeline upgrade: $BED/report-upgrade/flink_cdc_report.md"
cat "$BED/report-upgrade/flink_cdc_report.md"
echo
echo "The sandbox (Flink $flink, $BED) keeps running (Flink REST http://127.0.0.1:$CDCOPS_BED_REST_PORT);" \
    "stop it with: make bed-down"
