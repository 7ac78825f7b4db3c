"""Hugging Face models and data sets load only when pinned by commit, and only that commit.

The hub cannot be reached from the tests: a fake cache in the layout huggingface_hub
writes (``models--<org>--<name>/snapshots/<commit>/`` and ``refs/main``) stands in.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from advtransfer.nlp import data, hub, models

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


def fake_hub_cache(cache: Path, name: str, commit: str) -> Path:
    """A cached model snapshot as huggingface_hub lays it out; returns the snapshot dir."""
    repo = cache / f"models--{name.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    (snapshot / "config.json").write_text(json.dumps(
        {"model_type": "bert", "hidden_size": 4, "vocab_size": 8}))
    save_file({"w": torch.zeros(2)}, str(snapshot / models.WEIGHTS))
    return snapshot


def test_pinned_encoder_loads_from_its_snapshot(tmp_path):
    snapshot = fake_hub_cache(tmp_path / "cache", "org/tiny-bert", COMMIT)
    info = models.resolve_encoder({"kind": "hf", "name": "org/tiny-bert", "revision": COMMIT},
                                  cache_dir=str(tmp_path / "cache"))
    assert Path(info["path"]) == snapshot.resolve() and info["hidden_size"] == 4


@pytest.mark.parametrize("revision", [None, "main", "v1.0", COMMIT[:7]])
def test_unpinned_encoder_is_refused(tmp_path, revision):
    fake_hub_cache(tmp_path / "cache", "org/tiny-bert", COMMIT)
    with pytest.raises(hub.RevisionError) as info:
        models.resolve_encoder({"kind": "hf", "name": "org/tiny-bert", "revision": revision},
                               cache_dir=str(tmp_path / "cache"))
    assert str(info.value).startswith(
        "pin org/tiny-bert by revision: set nlp.encoder.revision to a commit hash from "
        "https://huggingface.co/org/tiny-bert/commits/main")


def test_encoder_pinned_to_a_commit_not_in_the_cache(tmp_path):
    fake_hub_cache(tmp_path / "cache", "org/tiny-bert", COMMIT)  # refs/main -> COMMIT
    with pytest.raises(models.ModelMissingError, match=f"revision {OTHER}"):
        models.resolve_encoder({"kind": "hf", "name": "org/tiny-bert", "revision": OTHER},
                               cache_dir=str(tmp_path / "cache"))


def test_snapshot_of_another_commit_is_refused(tmp_path):
    snapshot = fake_hub_cache(tmp_path / "cache", "org/tiny-bert", COMMIT)
    assert hub.check_snapshot_commit(snapshot, "org/tiny-bert", COMMIT, "k") == snapshot
    with pytest.raises(hub.RevisionError) as info:
        hub.check_snapshot_commit(snapshot, "org/tiny-bert", OTHER, "nlp.encoder.revision")
    assert str(info.value).startswith(
        f"org/tiny-bert: the resolved snapshot {snapshot} is commit {COMMIT}, but "
        f"nlp.encoder.revision pins {OTHER}")


def test_unpinned_hf_dataset_is_refused_before_any_load():
    spec = {"loader": "hf", "path": "fancyzhx/ag_news", "revision": None}
    with pytest.raises(hub.RevisionError) as info:
        data.load_pools("ag_news", spec)
    assert str(info.value) == (
        "pin fancyzhx/ag_news by revision: set nlp.datasets.ag_news.revision to a commit "
        "hash from https://huggingface.co/datasets/fancyzhx/ag_news/commits/main")


def test_paper_config_pins_or_names_every_hub_revision():
    """configs/nlp.yaml has a revision key for the hf encoder and every hf data set."""
    import yaml
    from conftest import REPO

    nlp = yaml.safe_load((REPO / "configs" / "nlp.yaml").read_text())["nlp"]
    assert "revision" in nlp["encoder"]
    hf_sets = {k: v for k, v in nlp["datasets"].items() if v["loader"] == "hf"}
    assert hf_sets and all("revision" in v for v in hf_sets.values())
    for value in [nlp["encoder"]["revision"], *(v["revision"] for v in hf_sets.values())]:
        assert value is None or hub.COMMIT.fullmatch(value)
