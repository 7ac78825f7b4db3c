# Shared image stages: train -> attack -> adversarial measures / linear probes -> summary.
# Used by every image scenario (results/<scenario>/...).


rule train_classifier:
    input:
        data=get_training_data,
    output:
        model="results/{scenario}/models/{model}.safetensors",
        meta="results/{scenario}/models/{model}.json",
    log:
        "logs/{scenario}/train_classifier/{model}.log",
    benchmark:
        "benchmarks/runs/{scenario}/train_classifier/{model}.tsv"
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
        model="results/{scenario}/models/{model}.safetensors",
        data="results/{scenario}/data/target.safetensors",
    output:
        adv="results/{scenario}/attacks/{model}.safetensors",
    log:
        "logs/{scenario}/attack_pgd/{model}.log",
    benchmark:
        "benchmarks/runs/{scenario}/attack_pgd/{model}.tsv"
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
        source="results/{scenario}/models/{model}.safetensors",
        reference="results/{scenario}/models/reference.safetensors",
        data="results/{scenario}/data/target.safetensors",
        adv_source="results/{scenario}/attacks/{model}.safetensors",
        adv_reference="results/{scenario}/attacks/reference.safetensors",
    output:
        row="results/{scenario}/adversarial/{model}.tsv",
    log:
        "logs/{scenario}/measure_adversarial/{model}.log",
    benchmark:
        "benchmarks/runs/{scenario}/measure_adversarial/{model}.tsv"
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
        source="results/{scenario}/models/{model}.safetensors",
        data="results/{scenario}/data/target.safetensors",
    output:
        row="results/{scenario}/probe/{model}.tsv",
    log:
        "logs/{scenario}/fit_linear_probe/{model}.log",
    benchmark:
        "benchmarks/runs/{scenario}/fit_linear_probe/{model}.tsv"
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
            "results/{scenario}/transfer.tsv",
            caption="../report/transfer_table.rst",
            category="{scenario}",
            subcategory="tables",
            labels={"table": "transfer", "format": "TSV"},
        ),
        correlation=report(
            "results/{scenario}/correlation.tsv",
            caption="../report/correlation_table.rst",
            category="{scenario}",
            subcategory="tables",
            labels={"table": "correlation", "format": "TSV"},
        ),
    log:
        "logs/{scenario}/summarize_transfer.log",
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
        transfer="results/{scenario}/transfer.tsv",
        correlation="results/{scenario}/correlation.tsv",
    output:
        figure3=report(
            "results/{scenario}/figure3.png",
            caption="../report/transfer_figure3.rst",
            category="{scenario}",
            subcategory="figures",
            labels={"figure": "Figure 3"},
        ),
        figure3_svg="results/{scenario}/figure3.svg",
        scatter=report(
            "results/{scenario}/scatter.png",
            caption="../report/transfer_scatter.rst",
            category="{scenario}",
            subcategory="figures",
            labels={"figure": "scatter"},
        ),
        scatter_svg="results/{scenario}/scatter.svg",
    log:
        "logs/{scenario}/plot_transfer.log",
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
