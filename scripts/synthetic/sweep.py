"""Sweep t for K random directions and record every Figure-2 quantity (docs/method.md §9.1)."""

from pathlib import Path

import pandas as pd
from tqdm import tqdm

from advtransfer import io
from advtransfer.jobs import retain_freed_memory, start_job
from advtransfer.synthetic import experiment

smk, log = start_job(snakemake)  # noqa: F821
retain_freed_memory()  # one (N, d, n) Jacobian per source: reuse its pages
cfg = smk.params.sweep
data = io.load_tensors(smk.input.data)
x, y = data["x"], data["y"]


def load_mlp(path):
    meta = io.read_json(Path(path).with_suffix(".json"))
    model = experiment.SigmoidMLP(meta["input_dim"], meta["hidden"], meta["output_dim"]).double()
    model.load_state_dict(io.load_tensors(path))
    return model.eval()


target = load_mlp(smk.input.target)
start = load_mlp(smk.input.start) if smk.wildcards.set == "independent" else target
scale = experiment.input_scale_for(x)
log.info("set %s: Theorem 3 inputs rescaled by 1/%.4f so that ||x|| <= 1", smk.wildcards.set, scale)
terms = experiment.target_terms(target, x)  # the same for every source of the sweep
rows = []
for k in tqdm(range(cfg["directions"]), desc=f"directions ({smk.wildcards.set})"):
    direction = experiment.random_direction(start, seed=cfg["seed"] + k, scale=cfg["direction_scale"])
    for t in cfg["t"]:
        source = experiment.perturbed(start, direction, t)
        point = experiment.sweep_point(source, target, x, y, input_scale=scale, terms=terms)
        rows.append({"set": smk.wildcards.set, "direction": k, "t": t, **point})
table = pd.DataFrame(rows)
log.info("sweep means by t:\n%s", table.groupby("t")[["tau1", "tau2", "alpha", "transferred_loss"]].mean())
io.write_tsv(smk.output.table, table)
