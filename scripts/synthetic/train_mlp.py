"""Train one sigmoid MLP (the target, or the independent source start point)."""

from advtransfer import io
from advtransfer.jobs import start_job
from advtransfer.synthetic import experiment

smk, log = start_job(snakemake)  # noqa: F821
cfg = smk.params.train
data = io.load_tensors(smk.input.data)
model, curve = experiment.train_mlp(
    data["x"], data["y"], cfg["hidden"], steps=cfg["steps"], lr=cfg["lr"], seed=cfg["seed"],
    progress=True,
)
log.info("trained %s: in-sample MSE %.5g (start %.5g)", smk.wildcards.mlp, curve[-1], curve[0])
io.save_tensors(smk.output.model, model.state_dict())
io.write_json(
    smk.output.meta,
    {"arch": "sigmoid_mlp", "input_dim": int(data["x"].shape[1]), "hidden": cfg["hidden"],
     "output_dim": int(data["y"].shape[1]), "seed": cfg["seed"], "steps": cfg["steps"],
     "lr": cfg["lr"], "final_mse": curve[-1], "loss_curve": curve},
)
