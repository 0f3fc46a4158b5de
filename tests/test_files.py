"""Data-file lookup: data folder, cache, pinned download, and what the user is told."""

import pytest

from vlms_bayes.data_io import files
from vlms_bayes.errors import DataUnavailableError


def test_registry_pins_commits_and_hashes():
    for entry in files.REGISTRY.values():
        assert entry.url.startswith("https://")
        assert len(entry.sha256) == 64
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


def test_offline_error_names_the_file_and_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv(files.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(files.DATA_DIR_ENV, raising=False)
    with pytest.raises(DataUnavailableError) as err:
        files.fetch_data_file("BD_catalogue_20-11-23.csv", allow_download=False)
    msg = str(err.value)
    assert "'BD_catalogue_20-11-23.csv'" in msg and "VLMS_BAYES_DATA_DIR" in msg
    assert files.REGISTRY["BD_catalogue_20-11-23.csv"].url in msg


def test_failed_download_is_a_clear_error(monkeypatch, tmp_path):
    import pooch

    monkeypatch.setenv(files.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(files.DATA_DIR_ENV, raising=False)

    def refuse(**kw):
        raise OSError("network unreachable")

    monkeypatch.setattr(pooch, "retrieve", refuse)
    with pytest.raises(DataUnavailableError, match=r"Could not download.*network unreachable"):
        files.fetch_data_file("gaia_dr2_rv_sample.fits.gz", data_dir_=tmp_path / "empty")


def test_corrupt_local_copy_is_reported(tmp_path):
    (tmp_path / "BD_catalogue.csv").write_text("not the catalogue")
    with pytest.raises(DataUnavailableError, match="does not match its pinned sha256"):
        files.fetch_data_file("BD_catalogue.csv", data_dir_=tmp_path, check_hash=True)
