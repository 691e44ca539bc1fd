"""User settings: defaults, JSON round trip, corrupt or hand-edited files, recent files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.chem.standardize import StandardizeOptions
from core.paths import config_dir, data_dir, log_dir
from core.settings import MAX_RECENT_FILES, SETTINGS_FILE, Settings


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cfg"
    monkeypatch.setenv("DRUGDESK_CONFIG_DIR", str(folder))
    return folder


def test_paths_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DRUGDESK_CONFIG_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("DRUGDESK_DATA_DIR", str(tmp_path / "d"))
    assert config_dir() == tmp_path / "c"
    assert data_dir() == tmp_path / "d"
    assert log_dir() == tmp_path / "d" / "logs"


def test_defaults():
    settings = Settings()
    assert settings.compute_device == "auto"
    assert settings.load_workers == 0
    assert settings.standardize_cleanup is True
    assert settings.standardize_largest_fragment is True
    assert settings.standardize_neutralize is True
    assert settings.standardize_canonical_tautomer is False
    assert (settings.structure_width, settings.structure_height) == (150, 100)
    assert settings.recent_files == []
    assert Settings().recent_files is not settings.recent_files
    assert settings.standardize_options() == StandardizeOptions()


def test_missing_file_gives_defaults(config):
    assert not (config / SETTINGS_FILE).exists()
    assert Settings.load() == Settings()


def test_save_and_load_round_trip(config):
    settings = Settings(
        compute_device="cpu",
        load_workers=3,
        standardize_neutralize=False,
        standardize_canonical_tautomer=True,
        structure_width=200,
        structure_height=150,
        recent_files=["/data/a.smi", "/data/b.sdf"],
    )
    settings.save()
    path = config / SETTINGS_FILE
    assert Settings.path() == path
    assert json.loads(path.read_text(encoding="utf-8"))["load_workers"] == 3
    assert sorted(p.name for p in config.iterdir()) == [SETTINGS_FILE]
    loaded = Settings.load()
    assert loaded == settings
    assert loaded.standardize_options() == StandardizeOptions(
        cleanup=True, largest_fragment=True, neutralize=False, canonical_tautomer=True
    )


def test_explicit_path(tmp_path):
    path = tmp_path / "elsewhere" / "s.json"
    Settings(load_workers=2).save(path)
    assert Settings.load(path).load_workers == 2


@pytest.mark.parametrize(
    "text", ["{not json", "", "[1, 2, 3]", '"a string"', "null", "\xff\xfe garbage"]
)
def test_corrupt_file_gives_defaults(config, text):
    config.mkdir()
    (config / SETTINGS_FILE).write_text(text, encoding="latin-1")
    assert Settings.load() == Settings()


def test_binary_file_gives_defaults(config):
    config.mkdir()
    (config / SETTINGS_FILE).write_bytes(b"\x00\x9f\x92\x96\xff")
    assert Settings.load() == Settings()


def test_wrong_types_are_ignored_one_by_one(config):
    config.mkdir()
    (config / SETTINGS_FILE).write_text(
        json.dumps(
            {
                "compute_device": 1,
                "load_workers": True,
                "standardize_cleanup": "yes",
                "standardize_neutralize": False,
                "structure_width": 200.5,
                "structure_height": 130,
                "recent_files": ["a.smi", 3],
                "unknown_key": "ignored",
            }
        )
    )
    settings = Settings.load()
    assert settings == Settings(standardize_neutralize=False, structure_height=130)


def test_out_of_range_values_are_clamped(config):
    config.mkdir()
    (config / SETTINGS_FILE).write_text(
        json.dumps(
            {
                "compute_device": "tpu",
                "inference_precision": "fp8",
                "load_workers": -4,
                "structure_width": 10_000,
                "structure_height": 1,
                "recent_files": [f"/f{i}.smi" for i in range(25)],
            }
        )
    )
    settings = Settings.load()
    assert settings.compute_device == "auto"
    assert settings.inference_precision == "auto"
    assert settings.load_workers == 0
    assert (settings.structure_width, settings.structure_height) == (600, 40)
    assert settings.recent_files == [f"/f{i}.smi" for i in range(MAX_RECENT_FILES)]


def test_recent_files_deduplicated_newest_first_at_most_ten(tmp_path):
    settings = Settings()
    files = [tmp_path / f"lib{i}.smi" for i in range(12)]
    for file in files:
        settings.add_recent_file(file)
    assert MAX_RECENT_FILES == 10
    assert settings.recent_files == [str(f.resolve()) for f in reversed(files)][:10]
    settings.add_recent_file(files[5])
    assert settings.recent_files[0] == str(files[5].resolve())
    assert settings.recent_files.count(str(files[5].resolve())) == 1
    assert len(settings.recent_files) == 10
    # The same file named another way is one entry.
    settings.add_recent_file(tmp_path / "sub" / ".." / "lib5.smi")
    assert settings.recent_files.count(str(files[5].resolve())) == 1
    assert len(settings.recent_files) == 10


def test_failed_save_keeps_the_previous_file(config, monkeypatch):
    Settings(load_workers=2).save()

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("core.settings.os.replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        Settings(load_workers=5).save()
    monkeypatch.undo()
    monkeypatch.setenv("DRUGDESK_CONFIG_DIR", str(config))
    assert Settings.load().load_workers == 2


def test_the_dask_scheduler_is_kept_normalised_or_dropped_when_not_an_address(config):
    settings = Settings(dask_scheduler="  LOCAL:4 ")
    settings.validate()
    assert settings.dask_scheduler == "local:4"
    settings = Settings(dask_scheduler="http://example.org")
    settings.validate()
    assert settings.dask_scheduler == ""
    Settings(dask_scheduler="tcp://10.0.0.5:8786").save()
    assert Settings.load().dask_scheduler == "tcp://10.0.0.5:8786"


def test_the_inference_precision_is_kept(config):
    Settings(inference_precision="bfloat16").save()
    assert Settings.load().inference_precision == "bfloat16"
