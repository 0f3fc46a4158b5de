"""The dated snapshot shipped in the package: pinned, complete, and enough for a fresh user."""

import hashlib
import json
import lzma

import pytest

from vlms_bayes.cli import main
from vlms_bayes.data_io import embedded, files

REFERENCE = files.Path(__file__).resolve().parents[3] / "shared" / "data"


def test_every_embedded_file_matches_its_pinned_hash():
    man = embedded.manifest()
    # everything a command reads by default is embedded; only the journal version of the
    # Brown Dwarf catalogue (kept for reproduction) is download-only
    assert set(files.REGISTRY) - set(man) == {"BD_catalogue.csv"}
    for name, entry in man.items():
        stored = (embedded.snapshot_folder() / entry.file).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == entry.stored_sha256, name
        raw = lzma.decompress(stored) if entry.compression == "xz" else stored
        assert len(raw) == entry.bytes, name
        assert hashlib.sha256(raw).hexdigest() == entry.sha256 == files.REGISTRY[name].sha256
        assert entry.citation and entry.licence and entry.source and entry.date, name


def test_snapshot_is_small_and_documented():
    folder = embedded.snapshot_folder()
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert total < 1.0 * 2**20, f"embedded snapshot is {total / 2**20:.2f} MiB"
    readme = (folder / "README.md").read_text(encoding="utf-8")
    for entry in embedded.manifest().values():
        assert entry.file.split("_Incl")[0] in readme, entry.file
    raw = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert raw["snapshot"] == embedded.SNAPSHOT_DATE


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="no ../shared/data to compare with")
def test_embedded_files_are_the_reference_files(tmp_path):
    for name in embedded.manifest():
        got = embedded.embedded_path(name, folder=tmp_path)
        assert got.read_bytes() == (REFERENCE / name).read_bytes(), name


def test_damaged_copy_in_the_cache_is_replaced(online):
    name = "BD_catalogue_20-11-23.csv"
    path = embedded.embedded_path(name)
    path.write_text("damaged")
    again = embedded.embedded_path(name)
    assert again == path and files.sha256_of(again) == files.REGISTRY[name].sha256


def test_fresh_user_offline_gets_the_snapshot_end_to_end(online, monkeypatch, tmp_path, capsys):
    """`vlms-bayes data` and `feasibility` with no data folder, no cache and no network."""
    monkeypatch.setenv(files.OFFLINE_ENV, "1")
    monkeypatch.setattr(embedded, "_announced", set())
    monkeypatch.chdir(tmp_path)
    assert main(["data", "--outdir", "r"]) == 0
    rec = json.loads((tmp_path / "r" / "run.json").read_text())
    for key in ("pscomppars", "bd_catalogue"):
        assert rec["inputs"][key]["origin"] == "embedded snapshot"
        assert rec["inputs"][key]["sha256"] == rec["inputs"][key]["pinned_sha256"]
    assert "130 companions" in capsys.readouterr().out
    assert main(["feasibility", "--outdir", "f", "--grid", "3", "--draws", "4",
                 "--secular-check", "0", "--probability-systems", "0",
                 "--integrate-candidates", "0", "0", "0",
                 "--backend", "numba"]) == 0
    rec = json.loads((tmp_path / "f" / "run.json").read_text())
    quarles = rec["inputs"]["quarles2020/a_crit_Incl[0].txt"]
    assert quarles["origin"] == "embedded snapshot" and "Quarles" in quarles["citation"]


def test_offline_flag_keeps_the_network_out(online, monkeypatch, tmp_path):
    from astroquery.ipac.nexsci import nasa_exoplanet_archive as nea

    monkeypatch.setattr(nea.NasaExoplanetArchive, "query_criteria",
                        lambda **kw: pytest.fail("the archive was queried"))
    assert main(["--offline", "data", "--outdir", str(tmp_path / "a"), "--no-bd"]) == 0
    assert main(["data", "--offline", "--outdir", str(tmp_path / "b"), "--no-bd"]) == 0
    assert files.OFFLINE_ENV not in files.os.environ  # the flag does not leak
