"""Issue 21, fault 4: a TaskManager host of the inventory cannot be reached.

The bed's real hosts plus one more TaskManager host that Ansible reaches over SSH at a loopback port where
nothing listens: a real connection failure (ssh: connection refused), not a mock. Ansible drops an unreachable
host and goes on with the others, so the role itself must stop the play before anything is written.
"""

import os
import re
import socket

from conftest import all_libs
from test_role_flink_cdc import DEPLOY, Inventory, taskmanager_ids


def closed_port():
    """A loopback port where nothing listens (bound once by the kernel's choice, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(path):
    """Every file below ``path`` with its size; {} when it does not exist."""
    return {os.path.join(d, n): os.path.getsize(os.path.join(d, n)) for d, dummy, names in os.walk(path)
            for n in names}


def test_unreachable_taskmanager_host_stops_the_play_naming_it(bed, ansible, tmp_path, pristine_libs):
    port = closed_port()
    home = tmp_path / "tm3-flink"
    (home / "lib").mkdir(parents=True)
    inv = Inventory(bed, tmp_path, flink_cdc_restart="rolling", flink_cdc_smoke=True, extra_hosts=[
        "tm3 ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=%d ansible_user=flink "
        "flink_cdc_flink_home=%s" % (port, home)])
    before, tms_before, cache_before = all_libs(bed), taskmanager_ids(), tree(inv.cache_dir)

    run = ansible.playbook(DEPLOY, inventory=inv.path, extra_vars=inv.vars, env={"ANSIBLE_TIMEOUT": "10"})

    assert run.rc != 0, run
    assert [r["host"] for r in run.records if r["status"] == "unreachable"] == ["tm3"], run
    # The play stops at the preflight, naming the host and why it could not be reached.
    out = run.output
    assert "Preflight failed, nothing was written on any host" in out, run
    reason = re.search(r"tm3: TaskManager reachable: Ansible cannot reach tm3 \(ssh to 127\.0\.0\.1:%d\): "
                       r"[^;]*Connection refused" % port, out)
    assert reason, out[-4000:]
    failed = [r for r in inv.report()["rows"] if r["status"] == "fail"]
    assert [(r["host"], r["check"]) for r in failed] == [("tm3", "reachable")], failed
    assert "Connection refused" in failed[0]["detail"] and str(port) in failed[0]["detail"]
    # Nothing written anywhere: no jar to the cache, no lib/ changed, no restart, no smoke job.
    assert not run.results(action="flink_connector_jar"), "the deploy phase ran with a host gone"
    assert tree(inv.cache_dir) == cache_before
    assert all_libs(bed) == before and os.listdir(str(home / "lib")) == []
    assert taskmanager_ids() == tms_before
    later = [r for r in run.records if re.search(r"(^|: )(Deploy|Restart|Smoke|Verify) \| ", r["task"])
             and r["status"] != "skipped"]
    assert later == [], later
