"""Data-file lookup: data folder, cache, pinned download, embedded snapshot, and messages."""

import logging

import pytest

from vlms_bayes.data_io import files
from vlms_bayes.errors import DataUnavailableError


def test_registry_pins_commits_and_hashes():
    for entry in files.REGISTRY.values():
        assert len(entry.sha256) == 64
        if entry.name == files.PS_SNAPSHOT:
            assert entry.url is None  # a dated archive reply: no address serves it
        else:
            assert entry.url.startswith("https://")
    assert files.REGISTRY["BD_catalogue_20-11-23.csv"].sha256.startswith("7372d439")


def test_data_folder_takes_precedence_and_hash_checks(shared_data_dir):
    path = files.fetch_data_file("BD_catalogue_20-11-23.csv", data_dir_=shared_data_dir,
                                 check_hash=True)
    assert path == shared_data_dir / "BD_catalogue_20-11-23.csv"
    q = files.fetch_data_file("quarles2020/a_crit_Incl[45].txt", data_dir_=shared_data_dir,
                              check_hash=True)
    assert q.parent.name == "quarles2020"


def test_environment_variable_sets_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(files.DATA_DIR_ENV, str(tmp_path))
    assert files.data_dir() == tmp_path
    assert files.data_dir("/x") == files.Path("/x")


def test_offline_falls_back_to_the_embedded_snapshot_with_one_warning(online, monkeypatch,
                                                                     caplog):
    from vlms_bayes.data_io import embedded

    monkeypatch.setenv(files.OFFLINE_ENV, "1")
    monkeypatch.setattr(embedded, "_announced", set())
    with caplog.at_level(logging.DEBUG, logger="vlms_bayes"):
        bd = files.resolve_data_file("BD_catalogue_20-11-23.csv")
        q = files.resolve_data_file("quarles2020/a_crit_Incl[45].txt")
    assert bd.origin == q.origin == "embedded snapshot"
    assert files.sha256_of(bd.path) == files.REGISTRY[bd.entry.name].sha256
    assert q.path.parent.name == "quarles2020"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "embedded 2025-08-07 data snapshot" in warnings[0].message
    assert "--refresh" in warnings[0].message and "--data-dir" in warnings[0].message
    rec = bd.provenance()
    assert rec["origin"] == "embedded snapshot" and rec["snapshot"] == "2025-08-07"
    assert "Stevenson" in rec["citation"] and rec["licence"]


def test_failed_download_falls_back_and_is_not_retried(online, monkeypatch):
    import pooch

    calls = []

    def refuse(**kw):
        calls.append(kw["url"])
        raise OSError("network unreachable")

    monkeypatch.setattr(pooch, "retrieve", refuse)
    got = files.resolve_data_file("gaia_dr2_rv_sample.fits.gz")
    assert got.origin == "embedded snapshot" and len(calls) == 1
    # the process now knows the network is down: the next file does not wait on it
    assert files.resolve_data_file("BD_catalogue_20-11-23.csv").origin == "embedded snapshot"
    assert len(calls) == 1


def test_a_file_outside_the_snapshot_is_a_clear_error_offline(online, monkeypatch):
    monkeypatch.setenv(files.OFFLINE_ENV, "1")
    with pytest.raises(DataUnavailableError) as err:
        files.fetch_data_file("BD_catalogue.csv")
    msg = str(err.value)
    assert "'BD_catalogue.csv'" in msg and "VLMS_BAYES_DATA_DIR" in msg
    assert files.REGISTRY["BD_catalogue.csv"].url in msg


def test_order_data_folder_then_cache_then_download(online, monkeypatch, tmp_path):
    import pooch

    name = "quarles2020/a_crit_Incl[0].txt"
    downloaded = tmp_path / "dl.txt"
    downloaded.write_text("downloaded")
    monkeypatch.setattr(pooch, "retrieve", lambda **kw: str(downloaded))
    assert files.resolve_data_file(name).origin == "download"
    cached = files.cache_dir() / name
    cached.parent.mkdir(parents=True)
    cached.write_text("cached")
    assert files.resolve_data_file(name).path == cached
    folder = tmp_path / "data"
    (folder / "quarles2020").mkdir(parents=True)
    (folder / name).write_text("local")
    got = files.resolve_data_file(name, data_dir_=folder)
    assert (got.path, got.origin) == (folder / name, "data folder")


def test_corrupt_local_copy_is_reported(tmp_path):
    (tmp_path / "BD_catalogue.csv").write_text("not the catalogue")
    with pytest.raises(DataUnavailableError, match="does not match its pinned sha256"):
        files.fetch_data_file("BD_catalogue.csv", data_dir_=tmp_path, check_hash=True)
