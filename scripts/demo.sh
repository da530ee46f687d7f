#!/usr/bin/env bash
# The README's demo: start the local sandbox and run the collection's main job, the
# cdcops.flink_cdc.deploy playbook, against it: preflight, deploy of the real connector jars from the
# sandbox's Maven repository, rolling restart (TaskManagers, then the JobManager), the smoke job, verify.
# Then it changes a row in PostgreSQL and shows it arrive in the sink, and upgrades the pipeline through a
# savepoint. It prints the readiness report, which ends with the smoke job's and the pipeline's rows.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CDCOPS_VENV:-$ROOT/.venv}"
BED="${CDCOPS_BED_DIR:-$ROOT/tests/output/bed}"
export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$VENV/collections"
cd "$ROOT"

python tests/bed/bed.py up
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
ansible-playbook cdcops.flink_cdc.deploy -i "$inventory" "${demo_vars[@]}" -e flink_cdc_pipeline_checkpoint_interval=10s \
    --tags flink_cdc_pipeline,flink_cdc_verify
python tests/bed/demo_change.py
echo
echo "==== readiness report: $BED/report/flink_cdc_report.md"
cat "$BED/report/flink_cdc_report.md"
echo
echo "The sandbox keeps running (Flink REST http://127.0.0.1:18081); stop it with: make bed-down"
