"""Score every source of a pool with every transferability estimator on target training data."""

import json
import time
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from advtransfer import io
from advtransfer.images import architectures, sources
from advtransfer.core import scoring
from advtransfer.core.modelutils import pick_device
from advtransfer.images import imagesets
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821


def source_val_accuracy(spec):
    """Validation accuracy on the source task from an advtransfer model's JSON sidecar
    (``val_accuracy``, written by train_classifier); NaN for other formats."""
    if spec.get("format", "advtransfer") != "advtransfer":
        return float("nan")
    side = architectures.sidecar_path(Path(spec["file"]))
    meta = json.loads(side.read_text(encoding="utf-8")) if side.is_file() else {}
    return float(meta.get("val_accuracy", float("nan")))


p = smk.params
device = pick_device("auto")
# the estimators see target training (and optionally validation) data only, never test
splits = ["train", "val"] if p.split == "train_val" else ["train"]
if "val" in splits and "val" not in imagesets.load_meta(smk.input.data).get("sizes", {}):
    log.warning("%s has no val split; the estimators use train only", smk.input.data)
    splits = ["train"]
parts = [imagesets.load_split(smk.input.data, s) for s in splits]
x, y = torch.cat([p[0] for p in parts]).to(device), torch.cat([p[1] for p in parts])
rows = []
for name, spec in tqdm(smk.params.specs.items(), desc="sources"):
    clock = [time.perf_counter()]
    model = sources.load_source(spec).to(device)
    clock.append(time.perf_counter())
    feats, logits = sources.features_and_logits(model, x, batch_size=p.batch_size)
    clock.append(time.perf_counter())
    probs = None if logits is None else scoring.softmax(logits.numpy())
    scores, seconds = scoring.run_estimators(
        feats.numpy(), probs, y.numpy(), p.estimators, settings=p.settings,
        logits=None if logits is None else logits.numpy(),
    )
    # baselines every estimator must beat: model size and source-task accuracy
    baselines = {"param_count": sources.describe_source(model.cpu(), x.shape[1:])["parameters"],
                 "source_val_accuracy": source_val_accuracy(spec)}
    rows.append({"model": name, **scores, **baselines, "n_samples": len(y),
                 "feature_dim": int(feats.shape[1]),
                 "load_s": clock[1] - clock[0], "extract_s": clock[2] - clock[1],
                 **{f"{n}_s": s for n, s in seconds.items()}})
    log.info("%s on %s (%d samples, %d features): %s", name, "+".join(splits), len(y),
             feats.shape[1], scores)
# NCTI and ETran normalise their components over the pool of sources
io.write_tsv(smk.output.scores, scoring.combine_pool_estimators(pd.DataFrame(rows), p.settings))
