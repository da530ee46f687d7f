"""The java_verdict filter (plugins/filter/java.py) over the support matrix's Java rules."""

from ansible_collections.cdcops.flink_cdc.plugins.filter.java import FilterModule, java_verdict


def test_the_file_holds_java_verdict():
    assert FilterModule().filters() == {"java_verdict": java_verdict}


def test_java_verdict_per_flink():
    assert java_verdict('openjdk version "17.0.15"', "1.20.3") == {"major": 17, "error": None, "warning": None}
    verdict = java_verdict('java version "1.8.0_392"', "2.2.0")
    assert verdict["major"] == 8 and verdict["error"].startswith("Java 8 is older than Flink 2.2.0's minimum, Java 11")
    verdict = java_verdict('openjdk version "21.0.2"', "1.20.3")
    assert verdict["error"] is None and verdict["warning"].startswith("Java 21 is not among the Java versions")
    assert java_verdict("java: not found", "1.20.3")["major"] is None
