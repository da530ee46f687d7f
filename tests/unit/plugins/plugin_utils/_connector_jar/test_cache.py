"""``cached_copies`` of plugins/plugin_utils/_connector_jar/cache.py: the one reader of the cache's layout besides
``cache_path``, which writes it."""

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar.checksums import Checksum
from ansible_collections.cdcops.flink_cdc.plugins.plugin_utils._connector_jar import cache


def test_cached_copies_finds_every_copy_that_cache_path_places(tmp_path):
    name = "flink-sql-connector-postgres-cdc-3.5.0.jar"
    cache_dir = str(tmp_path / "cache [1]")  # glob characters in the cache dir are taken literally
    placed = []
    for checksum in (Checksum("sha256", "ab" * 32), Checksum("sha1", "cd" * 20)):
        path = cache.cache_path(cache_dir, checksum, name)
        tmp_path.joinpath(path).parent.mkdir(parents=True)
        tmp_path.joinpath(path).write_bytes(b"jar")
        placed.append(path)
    other = cache.cache_path(cache_dir, Checksum("sha256", "ef" * 32), "other-1.jar")
    tmp_path.joinpath(other).parent.mkdir(parents=True)
    tmp_path.joinpath(other).write_bytes(b"jar")
    assert sorted(cache.cached_copies(cache_dir, name)) == sorted(placed)
    assert cache.cached_copies(cache_dir, "absent-1.jar") == []
    assert cache.cached_copies(str(tmp_path / "no-cache"), name) == []
