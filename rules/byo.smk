# Bring your own source models (docs/method.md §9.7): rank user-supplied candidates for a target
# given as an image folder. Candidates are checked first; then the target is read, a
# reference model is trained on it, every model is attacked on validation images, and
# each candidate gets adversarial measures (one job each: attack and measure) and a
# verified linear-probe accuracy (one job for all: a job's start-up dominates). The
# leaderboard stages (rules/leaderboard.smk) add every estimator and rank them all.
#   results/<run>/byo/example/target/, <model>.pt2    what the example writes from the default run
#                                               (byo.target.from_imageset, `export_from`)
#   results/<run>/byo/models/candidates.tsv           the checked candidates (+ cost estimates)
#   results/<run>/byo/data/target.safetensors         the image folder, resized and split
#   results/<run>/byo/models/reference.safetensors    reference model trained on the target
#   results/<run>/byo/attacks/reference.safetensors   PGD images of the reference
#   results/<run>/byo/adversarial/<model>.tsv         one candidate's attack and adversarial measures
#   results/<run>/byo/probes.tsv                      every candidate's verified transfer accuracy
#   results/<run>/byo/transfer.tsv                    all candidates (+ leaderboard outputs)


if byo_folder_generated():

    rule byo_example_folder:
        input:
            data=config["byo"]["target"]["from_imageset"]["file"],
        output:
            folder=directory(config["byo"]["target"]["image_folder"]),
        log:
            logfile("byo/byo_example_folder.log"),
        conda:
            "../envs/advtransfer.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            splits=config["byo"]["target"]["from_imageset"]["splits"],
        script:
            "../scripts/byo/export_folder.py"


rule export_byo_model:
    input:
        model=get_byo_export_input,
    output:
        model=BYO_EXPORTED,
    log:
        logfile("byo/export_byo_model/{model}.{ext}.log"),
    wildcard_constraints:
        ext="pt2|pt",
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        spec=get_byo_spec,
        shape=get_byo_image_shape,
    script:
        "../scripts/byo/export_model.py"


rule check_byo_models:
    input:
        models=get_byo_model_files,
    output:
        table=report(
            BYO_CANDIDATES,
            caption="../report/byo_candidates.rst",
            category="byo",
            subcategory="tables",
            labels={"table": "candidates", "format": "TSV"},
        ),
    log:
        logfile("byo/check_byo_models.log"),
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        specs=get_byo_specs,
        shape=get_byo_image_shape,
        # for the cost estimate of each candidate's attack and Jacobians
        jacobian_points=config["byo"]["jacobian_points"],
        attack=config["byo"]["attack"],
    script:
        "../scripts/byo/check_models.py"


rule build_byo_dataset:
    input:
        images=get_byo_image_files,
    output:
        data=BYO_DATA,
    log:
        logfile("byo/build_byo_dataset.log"),
    benchmark:
        benchfile("byo/build_byo_dataset.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        target=config["byo"]["target"],
    script:
        "../scripts/byo/build_dataset.py"


rule train_byo_reference:
    input:
        data=BYO_DATA,
        # candidates are loaded and run once before the expensive training starts
        checked=BYO_CANDIDATES,
    output:
        model=BYO_REFERENCE,
        meta=result(f"byo/models/{REFERENCE}.json"),
    log:
        logfile("byo/train_byo_reference.log"),
    benchmark:
        benchfile("byo/train_byo_reference.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    params:
        train=config["byo"]["train"],
        seed=config["byo"]["reference_seed"],
    script:
        "../scripts/byo/train_reference.py"


rule attack_byo_reference:
    input:
        model=BYO_REFERENCE,
        data=BYO_DATA,
    output:
        adv=result(f"byo/attacks/{REFERENCE}.safetensors"),
    log:
        logfile("byo/attack_byo_reference.log"),
    benchmark:
        benchfile("byo/attack_byo_reference.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=30,
    params:
        spec={"name": REFERENCE, "format": "advtransfer", "file": BYO_REFERENCE},
        attack=config["byo"]["attack"],
    script:
        "../scripts/byo/attack_reference.py"


rule measure_byo_adversarial:
    input:
        unpack(get_byo_model_input),
        reference=BYO_REFERENCE,
        adv_reference=result(f"byo/attacks/{REFERENCE}.safetensors"),
    output:
        row=result("byo/adversarial/{model}.tsv"),
    log:
        logfile("byo/measure_byo_adversarial/{model}.log"),
    benchmark:
        benchfile("byo/measure_byo_adversarial/{model}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        # PGD on the candidate, then input Jacobians of candidate and reference
        gpu=1,
        mem_mb=8000,
        runtime=60,
    params:
        spec=get_byo_spec,
        attack=config["byo"]["attack"],
        jacobian_points=config["byo"]["jacobian_points"],
        jacobian_output=config["byo"]["jacobian_output"],
        jacobian={
            k: config["byo"][k] for k in ("jacobian_method", "jacobian_memory_mb")
        },
    script:
        "../scripts/byo/measure_adversarial.py"


rule fit_byo_probes:
    input:
        models=get_byo_model_files,
        data=BYO_DATA,
        checked=BYO_CANDIDATES,
    output:
        table=result("byo/probes.tsv"),
    log:
        logfile("byo/fit_byo_probes.log"),
    benchmark:
        benchfile("byo/fit_byo_probes.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        # features of every candidate on the target train and test images
        gpu=1,
        mem_mb=4000,
        runtime=60,
    params:
        specs=get_byo_specs,
        probe=config["byo"]["probe"],
    script:
        "../scripts/byo/fit_probes.py"


rule summarize_byo_transfer:
    input:
        unpack(get_byo_source_tables),
    output:
        transfer=report(
            result("byo/transfer.tsv"),
            caption="../report/byo_transfer.rst",
            category="byo",
            subcategory="tables",
            labels={"table": "transfer", "format": "TSV"},
        ),
    log:
        logfile("byo/summarize_byo_transfer.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/byo/summarize.py"
