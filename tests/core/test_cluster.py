"""Cluster addresses, the Slurm configuration file and the version check (issue 18); running
on a real scheduler is tested in tests/cli/test_props_cluster.py."""

from __future__ import annotations

import pytest

from core.cluster import (
    SLURM_CONFIG_ENV,
    ClusterAddressError,
    ClusterError,
    ClusterSpec,
    check_cluster_versions,
    check_tls_configured,
    parse_cluster_address,
    read_slurm_config,
    slurm_config_path,
)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("tcp://127.0.0.1:8786", ClusterSpec("tcp", "tcp://127.0.0.1:8786")),
        (
            "  tcp://scheduler.lab.example:8786 ",
            ClusterSpec("tcp", "tcp://scheduler.lab.example:8786"),
        ),
        ("TLS://head-node:8786", ClusterSpec("tls", "tls://head-node:8786")),
        ("tcp://[::1]:8786", ClusterSpec("tcp", "tcp://[::1]:8786")),
        ("local:4", ClusterSpec("local", n_workers=4)),
        ("slurm:16", ClusterSpec("slurm", n_workers=16)),
    ],
)
def test_addresses(text, spec):
    assert parse_cluster_address(text) == spec


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tcp://",
        "tcp://host",
        "tcp://host:0",
        "tcp://host:70000",
        "tcp://a b:1",
        "inproc://x",
        "http://host:8786",
        "local:",
        "local:0",
        "local:-1",
        "local:two",
        "slurm:1.5",
        "host:8786",
    ],
)
def test_bad_addresses_say_what_an_address_is(text):
    with pytest.raises(ClusterAddressError, match=f"cluster address '{text.strip()}'"):
        parse_cluster_address(text)


def test_the_slurm_config_path_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(SLURM_CONFIG_ENV, raising=False)
    assert slurm_config_path().parts[-3:] == (".config", "drugdesk", "slurm.yaml")
    monkeypatch.setenv(SLURM_CONFIG_ENV, str(tmp_path / "mine.yaml"))
    assert slurm_config_path() == tmp_path / "mine.yaml"


def test_a_missing_slurm_config_names_the_file_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(SLURM_CONFIG_ENV, str(tmp_path / "absent.yaml"))
    with pytest.raises(ClusterError) as caught:
        read_slurm_config()
    message = str(caught.value)
    assert str(tmp_path / "absent.yaml") in message
    assert SLURM_CONFIG_ENV in message and "cores" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [("cores: [1\n", "not valid YAML"), ("- a list\n", "mapping"), ("cores: 4\n", "lacks memory")],
)
def test_a_bad_slurm_config_is_refused(tmp_path, text, problem):
    path = tmp_path / "slurm.yaml"
    path.write_text(text)
    with pytest.raises(ClusterError, match=problem):
        read_slurm_config(path)


def test_a_slurm_config_gives_the_cluster_settings(tmp_path):
    path = tmp_path / "slurm.yaml"
    path.write_text("queue: normal\ncores: 8\nmemory: 32GB\nwalltime: '01:00:00'\n")
    assert read_slurm_config(path) == {
        "queue": "normal",
        "cores": 8,
        "memory": "32GB",
        "walltime": "01:00:00",
    }


class _Client:
    """Stands in for distributed.Client.get_versions."""

    def __init__(self, worker_packages: dict, scheduler_python: str = "3.11.7.final.0") -> None:
        self.worker_packages = worker_packages
        self.scheduler_python = scheduler_python
        self.asked = None

    def get_versions(self, check=False, packages=None):
        from distributed.versions import get_versions

        self.asked = (check, list(packages or []))
        here = get_versions(packages)
        scheduler = {
            "host": {**here["host"], "python": self.scheduler_python},
            "packages": here["packages"],
        }
        worker = {"host": here["host"], "packages": {**here["packages"], **self.worker_packages}}
        return {"client": here, "scheduler": scheduler, "workers": {"tcp://10.0.0.2:4000": worker}}


def test_matching_versions_pass_and_are_asked_with_check():
    client = _Client({})
    check_cluster_versions(client, "tcp://10.0.0.1:8786")
    assert client.asked[0] is True
    assert {"rdkit", "drugdesk", "pandas"} <= set(client.asked[1])


def test_a_worker_with_another_rdkit_is_refused_naming_it():
    with pytest.raises(ClusterError) as caught:
        check_cluster_versions(_Client({"rdkit": "2020.09.1"}), "tcp://10.0.0.1:8786")
    message = str(caught.value)
    assert message.startswith("tcp://10.0.0.1:8786: worker tcp://10.0.0.2:4000 has rdkit 2020.09.1")
    assert "install the same rdkit version" in message


def test_a_worker_without_drugdesk_is_refused():
    with pytest.raises(ClusterError, match="lacks drugdesk"):
        check_cluster_versions(_Client({"drugdesk": None}))


def test_a_scheduler_on_another_python_is_refused():
    with pytest.raises(ClusterError, match=r"the scheduler has python 3\.9"):
        check_cluster_versions(_Client({}, scheduler_python="3.9.1.final.0"))


def test_tls_without_certificates_is_refused_before_connecting():
    import dask

    unset = {
        "distributed.comm.tls.ca-file": None,
        "distributed.comm.tls.client.cert": None,
        "distributed.comm.tls.client.key": None,
    }
    with (
        dask.config.set(unset),
        pytest.raises(ClusterError, match=r"no TLS certificates configured: set distributed\.comm"),
    ):
        check_tls_configured()
