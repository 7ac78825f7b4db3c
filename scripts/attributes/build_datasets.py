"""Build the attributes scenario's data: target (identities + attributes), probe, pairs."""

from pathlib import Path

from advtransfer.attributes import experiment
from advtransfer.images import imagesets
from advtransfer.jobs import start_job

smk, log = start_job(snakemake)  # noqa: F821
built = experiment.build_datasets(smk.params.data, threads=smk.threads)  # checks every input file first
for name in ("target", "probe"):
    entry = built[name]
    sizes = {k: tuple(v.shape) for k, v in entry["arrays"].items() if k.startswith("x_")}
    log.info("%s: %d classes, domain %s, images %s", name, len(entry["meta"]["classes"]),
             entry["meta"]["domain"], sizes)
    imagesets.save_imageset(getattr(smk.output, name), entry["arrays"], entry["meta"])
for path in smk.output.pairs:
    bench = Path(path).name.removesuffix(".safetensors")
    entry = built["pairs"][bench]
    same = entry["arrays"]["issame"]
    log.info("%s: %d pairs (%d same), images %s", bench, len(same), int(same.sum()),
             tuple(entry["arrays"]["x"].shape))
    imagesets.save_imageset(path, entry["arrays"], entry["meta"])
