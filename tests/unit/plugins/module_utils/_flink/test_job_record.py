"""job_record: the durable record of one job on the module's host."""

import os
import stat
import threading
import time

import pytest

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink import job_record
from ansible_collections.cdcops.flink_cdc.plugins.module_utils._flink.job_record import RecordError


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize("name, file_name", [
    ("t1-cdc", "t1-cdc.json"),
    ("orders_v2.1", "orders_v2.1.json"),
    ("my job", "my_job.json"),
    ("a/b", "a_b.json"),
    ("../../etc/passwd", "_.._etc_passwd.json"),
    (".hidden", "hidden.json"),
    ("...", "_.json"),
    ("", "_.json"),
    ("k\u00e4se", "k_se.json"),
])
def test_record_path_is_one_safe_file_in_the_directory(tmp_path, name, file_name):
    path = job_record.record_path(str(tmp_path), name)
    assert path == os.path.join(str(tmp_path), file_name)
    assert os.path.dirname(path) == str(tmp_path)


def test_read_missing_is_none(tmp_path):
    assert job_record.read(str(tmp_path / "nope.json"), "nope") is None
    assert job_record.read(str(tmp_path / "no-dir" / "nope.json"), "nope") is None


def read_error(tmp_path, content):
    """(path, message): the RecordError of reading the job t1's record from a file that holds ``content``."""
    path = tmp_path / "t1.json"
    path.write_text(content)
    with pytest.raises(RecordError) as err:
        job_record.read(str(path), "t1")
    return str(path), err.value.message


@pytest.mark.parametrize("text", ["{not json", "", '{"name": "t1"'])
def test_read_malformed_names_the_path(tmp_path, text):
    path, message = read_error(tmp_path, text)
    assert path in message and "last savepoint" in message


def test_read_a_directory_is_an_error(tmp_path):
    (tmp_path / "t1.json").mkdir()
    with pytest.raises(RecordError) as err:
        job_record.read(str(tmp_path / "t1.json"), "t1")
    assert str(tmp_path / "t1.json") in err.value.message


def test_read_record_of_another_name_is_an_error(tmp_path):
    path = job_record.record_path(str(tmp_path), "my job")
    job_record.write(path, job_record.new("my/job"))
    assert job_record.record_path(str(tmp_path), "my/job") == path
    with pytest.raises(RecordError) as err:
        job_record.read(path, "my job")
    assert path in err.value.message and "'my/job'" in err.value.message and "'my job'" in err.value.message


@pytest.mark.parametrize("content", ["[1, 2]", '"t1"', "{}"])
def test_read_a_record_without_the_name_is_an_error(tmp_path, content):
    assert "belongs to the job None" in read_error(tmp_path, content)[1]


def test_new_record():
    record = job_record.new("t1")
    assert record == {"version": 1, "name": "t1", "state": None, "job_id": None, "spec": None, "fingerprint": None,
                      "savepoint": None, "restored_from": None, "pending": None, "history": []}
    assert job_record.new("t1") is not record and job_record.new("t1")["history"] is not record["history"]


def test_write_then_read_round_trips(tmp_path, umask):
    directory = tmp_path / "records" / "deep"
    path = job_record.record_path(str(directory), "t1")
    record = job_record.new("t1")
    record.update(state="running", job_id="a" * 32, pending={"op": "submit", "job_id": "a" * 32})
    job_record.write(path, record)
    assert "updated" not in record
    back = job_record.read(path, "t1")
    assert {k: v for k, v in back.items() if k != "updated"} == record
    assert time.strptime(back["updated"], "%Y-%m-%dT%H:%M:%SZ")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(directory)).st_mode) == 0o700
    assert os.listdir(str(directory)) == ["t1.json"]
    with open(path) as f:
        assert f.read().endswith("}\n")


def test_write_replaces_atomically_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = job_record.record_path(str(tmp_path), "t1")
    first = dict(job_record.new("t1"), state="running")
    job_record.write(path, first)
    inode = os.stat(path).st_ino
    job_record.write(path, dict(first, state="suspended"))
    assert job_record.read(path, "t1")["state"] == "suspended"
    assert os.stat(path).st_ino != inode  # a new file renamed over the old one, not a rewrite in place
    assert os.listdir(str(tmp_path)) == ["t1.json"]

    def refuse(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(job_record.os, "replace", refuse)
    with pytest.raises(RecordError) as err:
        job_record.write(path, dict(first, state="cancelled"))
    assert "No space left on device" in err.value.message and path in err.value.message
    assert job_record.read(path, "t1")["state"] == "suspended"
    assert os.listdir(str(tmp_path)) == ["t1.json"]


def test_write_where_the_directory_cannot_be_made(tmp_path):
    (tmp_path / "file").write_text("x")
    path = str(tmp_path / "file" / "t1.json")
    with pytest.raises(RecordError) as err:
        job_record.write(path, job_record.new("t1"))
    assert path in err.value.message and "record_dir" in err.value.message


def test_add_savepoint_newest_first_deduplicated_and_bounded():
    record = job_record.new("t1")
    for i in range(job_record.HISTORY + 5):
        job_record.add_savepoint(record, "file:/sp/savepoint-%d" % i)
    last = job_record.HISTORY + 4
    assert record["savepoint"] == "file:/sp/savepoint-%d" % last
    assert record["history"] == ["file:/sp/savepoint-%d" % i for i in range(last, last - job_record.HISTORY, -1)]
    job_record.add_savepoint(record, "file:/sp/savepoint-10")
    assert record["history"][0] == "file:/sp/savepoint-10" and record["history"].count("file:/sp/savepoint-10") == 1
    assert len(record["history"]) == job_record.HISTORY


def test_add_savepoint_to_a_record_without_history():
    record = {"name": "t1"}
    job_record.add_savepoint(record, "file:/sp/1")
    assert record == {"name": "t1", "savepoint": "file:/sp/1", "history": ["file:/sp/1"]}


def test_remove_removes_record_and_lock(tmp_path):
    path = job_record.record_path(str(tmp_path), "t1")
    job_record.write(path, job_record.new("t1"))
    with job_record.locked(path):
        pass
    assert sorted(os.listdir(str(tmp_path))) == ["t1.json", "t1.json.lock"]
    assert job_record.remove(path) is True
    assert os.listdir(str(tmp_path)) == []
    assert job_record.remove(path) is False


def test_remove_a_directory_in_its_place_is_an_error(tmp_path):
    (tmp_path / "t1.json").mkdir()
    with pytest.raises(RecordError) as err:
        job_record.remove(str(tmp_path / "t1.json"))
    assert "cannot remove" in err.value.message


def test_locked_makes_the_directory_and_lock_file(tmp_path, umask):
    path = job_record.record_path(str(tmp_path / "records"), "t1")
    with job_record.locked(path):
        assert os.path.exists(path + ".lock")
    assert stat.S_IMODE(os.stat(str(tmp_path / "records")).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path + ".lock").st_mode) == 0o600


def test_second_lock_in_the_same_process_times_out(tmp_path):
    # flock locks belong to an open file description: a second os.open of the lock conflicts even here.
    path = job_record.record_path(str(tmp_path), "t1")
    with job_record.locked(path):
        with pytest.raises(RecordError) as err:
            with job_record.locked(path, timeout=0):
                pytest.fail("two holders of one lock")
        assert path + ".lock" in err.value.message and "another flink_job run" in err.value.message
    with job_record.locked(path, timeout=0):
        pass  # free again once the first let go


def test_locked_serializes_two_threads(tmp_path):
    path = job_record.record_path(str(tmp_path), "t1")
    events = []
    held = threading.Event()
    outcome = {}

    def second(timeout):
        try:
            with job_record.locked(path, timeout=timeout):
                events.append("second in")
            outcome[timeout] = "acquired"
        except RecordError as exc:
            outcome[timeout] = exc.message

    with job_record.locked(path):
        held.set()
        impatient = threading.Thread(target=second, args=(0.1,))
        impatient.start()
        impatient.join(5)
        assert "another flink_job run holds" in outcome[0.1]
        patient = threading.Thread(target=second, args=(5,))
        patient.start()
        time.sleep(0.3)
        assert events == [] and patient.is_alive()
        events.append("first out")
    patient.join(5)
    assert outcome[5] == "acquired"
    assert events == ["first out", "second in"]


def test_lock_is_released_when_the_body_raises(tmp_path):
    path = job_record.record_path(str(tmp_path), "t1")
    with pytest.raises(ValueError):
        with job_record.locked(path):
            raise ValueError("boom")
    acquired = []
    with job_record.locked(path, timeout=0):
        acquired.append(True)
    assert acquired == [True]
