"""JobManager and host-check results shared by the unit tests of plugins/plugin_utils/_report_rows.py and
plugins/filter/report_rows.py.
"""


URL = "http://127.0.0.1:8081"
JM = {"flink_version": "1.20.3", "overview": {"slots-available": 3, "slots-total": 4},
      "taskmanagers": [{"id": "tm-a", "host": "127.0.0.2"}, {"id": "tm-b", "host": "127.0.0.3"}],
      "jobs": [{"state": "RUNNING"}, {"state": "FINISHED"}],
      "host_matches": {"matched": {"tm1": ["tm-a"], "tm2": ["tm-b"]}, "missing": [], "unexpected": []}}


HOST_CHECK = {"changed": False, "rows": [
    {"host": "tm1", "area": "Network", "check": "PostgreSQL db:5432", "status": "ok", "detail": "reachable from tm1"},
    {"host": "tm1", "area": "Java/config", "check": "java", "status": "ok", "detail": "Java 17 for Flink 1.20.3 (...)"},
]}


# --- deploy and restart

def jar(name, changed):
    return {"path": "/opt/flink/lib/" + name, "changed": changed}
