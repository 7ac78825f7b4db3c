"""Score every source of a pool with every transferability estimator on target training data."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from advtransfer import imagesets, io, leaderboard, model_zoo, training  # noqa: E402

smk = snakemake  # noqa: F821
log = io.setup_logging(smk.log[0])
torch.set_num_threads(smk.threads)
cfg = smk.params.cfg
device = training.pick_device("auto")
# the estimators see target training (and optionally validation) data only, never test
splits = ["train", "val"] if cfg["split"] == "train_val" else ["train"]
if "val" in splits and "val" not in imagesets.load_meta(smk.input.data).get("sizes", {}):
    log.warning("%s has no val split; the estimators use train only", smk.input.data)
    splits = ["train"]
parts = [imagesets.load_split(smk.input.data, s) for s in splits]
x, y = torch.cat([p[0] for p in parts]).to(device), torch.cat([p[1] for p in parts])
rows = []
for name, spec in tqdm(smk.params.specs.items(), desc="sources"):
    clock = [time.perf_counter()]
    model = model_zoo.load_source(spec).to(device)
    clock.append(time.perf_counter())
    feats, logits = model_zoo.features_and_logits(model, x, batch_size=cfg["batch_size"])
    clock.append(time.perf_counter())
    probs = None if logits is None else leaderboard.softmax(logits.numpy())
    scores, seconds = leaderboard.run_estimators(
        feats.numpy(), probs, y.numpy(), cfg["estimators"], settings=cfg
    )
    rows.append({"model": name, **scores, "n_samples": len(y), "feature_dim": int(feats.shape[1]),
                 "load_s": clock[1] - clock[0], "extract_s": clock[2] - clock[1],
                 **{f"{n}_s": s for n, s in seconds.items()}})
    log.info("%s on %s (%d samples, %d features): %s", name, "+".join(splits), len(y),
             feats.shape[1], scores)
io.write_tsv(smk.output.scores, pd.DataFrame(rows))
