"""The ports of the beds that may run at once: the test bed (tests/bed/bed.py's defaults), the bed of the stage
that scripts/test.sh runs beside it (those plus its offset), and the demo's sandbox (scripts/demo.sh), which keeps
running after ``make demo``. No two share a port, so ``make demo`` and ``make test`` run in either order."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def read(*path):
    with open(os.path.join(ROOT, *path)) as f:
        return f.read()


def test_the_beds_that_run_at_once_share_no_port():
    test_bed = {int(p) for p in re.findall(r'os\.environ\.get\("CDCOPS_BED_\w+_PORT", "(\d+)"\)', read("tests", "bed", "bed.py"))}
    offset = int(re.search(r'CDCOPS_SIDE_BY_SIDE_PORT_OFFSET", "(\d+)"', read("scripts", "test.sh")).group(1))
    beside = {port + offset for port in test_bed}
    demo = {int(p) for p in re.findall(r"CDCOPS_BED_\w+_PORT:-(\d+)", read("scripts", "demo.sh"))}
    assert len(test_bed) == 6 and len(demo) == 6 and offset > 0
    assert not test_bed & beside and not test_bed & demo, (test_bed, demo)
    assert not beside & demo, "the demo's sandbox holds a port of the bed that runs beside the test bed: %s" % (
        sorted(beside & demo))
