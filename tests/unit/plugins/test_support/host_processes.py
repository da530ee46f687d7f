"""Java choices and Flink process command lines shared by the unit tests of plugins/module_utils/_host_check.py
and _host_facts.py.
"""

from ansible_collections.cdcops.flink_cdc.plugins.module_utils import _host_facts as hf
PATH_JAVA = hf.JavaChoice("/usr/bin/java", "PATH", "")


def java(main, home, extra=()):
    classpath = ":".join("%s/lib/%s" % (home, jar) for jar in ("flink-dist-1.20.3.jar", "flink-csv-1.20.3.jar")) + ":::"
    return ["java", "-Xmx1g", "-classpath", classpath, main] + list(extra)
