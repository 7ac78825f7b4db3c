# Shared image stages: train -> attack -> adversarial measures / linear probes -> summary.
# Used by every image scenario (results/<run>/<scenario>/...).


rule train_classifier:
    input:
        data=get_training_data,
    output:
        model=result("{scenario}/models/{model}.safetensors"),
        meta=result("{scenario}/models/{model}.json"),
    log:
        logfile("{scenario}/train_classifier/{model}.log"),
    benchmark:
        benchfile("{scenario}/train_classifier/{model}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=training_mem_mb,
        runtime=training_runtime,
    params:
        # a scenario may train its reference differently (attributes: reference_train)
        train=lambda wc: config[wc.scenario].get(
            "reference_train" if wc.model == REFERENCE else "train",
            config[wc.scenario]["train"],
        ),
        # label set named by the model's source table entry (attributes: attr_<name>);
        # "y", the data set's classes, by default
        labels=lambda wc: image_model_table(wc.scenario)[wc.model].get("labels", "y"),
        seed=get_training_seed,
    script:
        "../scripts/transfer/train_classifier.py"


rule attack_pgd:
    input:
        model=result("{scenario}/models/{model}.safetensors"),
        data=result("{scenario}/data/target.safetensors"),
    output:
        adv=result("{scenario}/attacks/{model}.safetensors"),
    log:
        logfile("{scenario}/attack_pgd/{model}.log"),
    benchmark:
        benchfile("{scenario}/attack_pgd/{model}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=30,
    params:
        attack=lambda wc: config[wc.scenario]["attack"],
    script:
        "../scripts/transfer/attack_pgd.py"


rule measure_adversarial:
    input:
        source=result("{scenario}/models/{model}.safetensors"),
        reference=result("{scenario}/models/reference.safetensors"),
        data=result("{scenario}/data/target.safetensors"),
        adv_source=result("{scenario}/attacks/{model}.safetensors"),
        adv_reference=result("{scenario}/attacks/reference.safetensors"),
    output:
        row=result("{scenario}/adversarial/{model}.tsv"),
    log:
        logfile("{scenario}/measure_adversarial/{model}.log"),
    benchmark:
        benchfile("{scenario}/measure_adversarial/{model}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=30,
    params:
        attack=lambda wc: config[wc.scenario]["attack"],
        jacobian_points=lambda wc: config[wc.scenario]["jacobian_points"],
        jacobian_output=lambda wc: config[wc.scenario].get("jacobian_output", "logits"),
        jacobian=lambda wc: {
            k: config[wc.scenario][k]
            for k in ("jacobian_method", "jacobian_memory_mb")
        },
    script:
        "../scripts/transfer/measure_adversarial.py"


rule fit_linear_probe:
    input:
        source=result("{scenario}/models/{model}.safetensors"),
        data=result("{scenario}/data/target.safetensors"),
    output:
        row=result("{scenario}/probe/{model}.tsv"),
    log:
        logfile("{scenario}/fit_linear_probe/{model}.log"),
    benchmark:
        benchfile("{scenario}/fit_linear_probe/{model}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        # feature extraction runs the source network over the target set
        gpu=1,
        mem_mb=4000,
        runtime=30,
    params:
        probe=lambda wc: config[wc.scenario]["probe"],
    script:
        "../scripts/transfer/fit_linear_probe.py"


rule summarize_transfer:
    input:
        unpack(get_source_tables),
    output:
        transfer=report(
            result("{scenario}/transfer.tsv"),
            caption="../report/transfer_table.rst",
            category="{scenario}",
            subcategory="tables",
            labels={"table": "transfer", "format": "TSV"},
        ),
        correlation=report(
            result("{scenario}/correlation.tsv"),
            caption="../report/correlation_table.rst",
            category="{scenario}",
            subcategory="tables",
            labels={"table": "correlation", "format": "TSV"},
        ),
    log:
        logfile("{scenario}/summarize_transfer.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        correlation=lambda wc: config[wc.scenario]["correlation"],
        sources=get_source_info,
    script:
        "../scripts/transfer/summarize.py"


rule plot_transfer:
    input:
        transfer=result("{scenario}/transfer.tsv"),
        correlation=result("{scenario}/correlation.tsv"),
    output:
        figure3=report(
            result("{scenario}/figure3.png"),
            caption="../report/transfer_figure3.rst",
            category="{scenario}",
            subcategory="figures",
            labels={"figure": "Figure 3"},
        ),
        figure3_svg=result("{scenario}/figure3.svg"),
        scatter=report(
            result("{scenario}/scatter.png"),
            caption="../report/transfer_scatter.rst",
            category="{scenario}",
            subcategory="figures",
            labels={"figure": "scatter"},
        ),
        scatter_svg=result("{scenario}/scatter.svg"),
    log:
        logfile("{scenario}/plot_transfer.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        # the figure titles name the attack setting
        attack=get_attack_setting,
    script:
        "../scripts/transfer/plot_transfer.py"
