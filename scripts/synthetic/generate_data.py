"""Generate the synthetic RBF regression data (Liang et al. §4.1; docs/method.md §9.1)."""

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.synthetic import experiment

smk, log = start_job(snakemake)  # noqa: F821
params = smk.params.data
data = experiment.make_rbf_data(**params, seed=smk.params.seed)
log.info(
    "generated x %s, y %s; max ||x|| = %.3f; y variance per output %s",
    tuple(data.x.shape),
    tuple(data.y.shape),
    float(data.x.norm(dim=1).max()),
    data.y.var(0).numpy().round(4).tolist(),
)
io.save_tensors(
    smk.output.data,
    {"x": data.x, "y": data.y, "centres": data.centres, "rbf_means": data.rbf_means,
     "rbf_widths_sq": data.rbf_widths_sq, "a": data.a, "b": data.b},
    meta={"params": params, "seed": smk.params.seed},
)
