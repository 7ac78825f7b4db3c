# Knowledge transfer among text data sets (Liang et al. §4.2, NLP; docs/method.md §9.5):
# prepare data + encoder -> fine-tune sources and reference -> TextFooler-style attacks
# -> adversarial measures / linear probes -> summary and figures.
#   results/nlp/data/<dataset>.csv, .json        normalised data set (split, label, text)
#   results/nlp/encoder/base.json                the checked pretrained encoder
#   results/nlp/models/<model>/model.safetensors fine-tuned classifier (+ advtransfer.json)
#   results/nlp/attacks/<model>.tsv              adversarial sentences of one model
#   results/nlp/adversarial|probe/<model>.tsv    one row of measures per source
#   results/nlp/transfer.tsv, correlation.tsv, figure3.*, scatter.*


rule prepare_text_dataset:
    input:
        files=get_nlp_dataset_files,
    output:
        data="results/nlp/data/{dataset}.csv",
        meta="results/nlp/data/{dataset}.json",
    log:
        "logs/nlp/prepare_text_dataset/{dataset}.log",
    benchmark:
        "benchmarks/runs/nlp/prepare_text_dataset/{dataset}.tsv"
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        # paper scale reads whole Hugging Face data sets (Yelp: 560k reviews)
        mem_mb=8000,
        runtime=60,
    params:
        spec=get_nlp_dataset_spec,
        cache_dir=config["nlp"]["cache_dir"],
        allow_download=config["nlp"]["allow_download"],
    script:
        "../scripts/nlp/prepare_dataset.py"


rule prepare_text_encoder:
    input:
        unpack(get_nlp_encoder_inputs),
    output:
        info="results/nlp/encoder/base.json",
    log:
        "logs/nlp/prepare_text_encoder.log",
    benchmark:
        "benchmarks/runs/nlp/prepare_text_encoder.tsv"
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        encoder=config["nlp"]["encoder"],
        cache_dir=config["nlp"]["cache_dir"],
        allow_download=config["nlp"]["allow_download"],
    script:
        "../scripts/nlp/prepare_encoder.py"


rule finetune_text_classifier:
    input:
        unpack(get_nlp_model_data),
        encoder="results/nlp/encoder/base.json",
    output:
        model="results/nlp/models/{model}/model.safetensors",
        meta="results/nlp/models/{model}/advtransfer.json",
    log:
        "logs/nlp/finetune_text_classifier/{model}.log",
    benchmark:
        "benchmarks/runs/nlp/finetune_text_classifier/{model}.tsv"
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=240,
    params:
        train=config["nlp"]["train"],
        seed=get_nlp_model_seed,
        max_length=config["nlp"]["max_length"],
        freeze_word_embeddings=config["nlp"]["freeze_word_embeddings"],
    script:
        "../scripts/nlp/finetune.py"


rule attack_textfooler:
    input:
        unpack(get_nlp_attack_inputs),
    output:
        attack="results/nlp/attacks/{model}.tsv",
    log:
        "logs/nlp/attack_textfooler/{model}.log",
    benchmark:
        "benchmarks/runs/nlp/attack_textfooler/{model}.tsv"
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    params:
        attack=config["nlp"]["attack"],
    script:
        "../scripts/nlp/attack.py"


rule measure_text_adversarial:
    input:
        source="results/nlp/models/{model}/model.safetensors",
        reference="results/nlp/models/reference/model.safetensors",
        adv_source="results/nlp/attacks/{model}.tsv",
        adv_reference="results/nlp/attacks/reference.tsv",
    output:
        row="results/nlp/adversarial/{model}.tsv",
    log:
        "logs/nlp/measure_text_adversarial/{model}.log",
    benchmark:
        "benchmarks/runs/nlp/measure_text_adversarial/{model}.tsv"
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        # Jacobians w.r.t. word embeddings: jacobian_points x classes x max_length x hidden
        gpu=1,
        mem_mb=8000,
        runtime=30,
    params:
        jacobian_points=config["nlp"]["jacobian_points"],
        jacobian_output=config["nlp"]["jacobian_output"],
        batch_size=config["nlp"]["attack"]["batch_size"],
    script:
        "../scripts/nlp/measure_adversarial.py"


rule fit_text_probe:
    input:
        unpack(get_nlp_target_data),
        source="results/nlp/models/{model}/model.safetensors",
    output:
        row="results/nlp/probe/{model}.tsv",
    log:
        "logs/nlp/fit_text_probe/{model}.log",
    benchmark:
        "benchmarks/runs/nlp/fit_text_probe/{model}.tsv"
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        # feature extraction runs the source encoder over the target set
        gpu=1,
        mem_mb=4000,
        runtime=60,
    params:
        probe=config["nlp"]["probe"],
        batch_size=config["nlp"]["attack"]["batch_size"],
    script:
        "../scripts/nlp/fit_probe.py"


rule summarize_nlp_transfer:
    input:
        unpack(get_nlp_source_tables),
    output:
        transfer=report(
            "results/nlp/transfer.tsv",
            caption="../report/nlp_transfer_table.rst",
            category="nlp",
            subcategory="tables",
            labels={"table": "transfer", "format": "TSV"},
        ),
        correlation=report(
            "results/nlp/correlation.tsv",
            caption="../report/nlp_correlation_table.rst",
            category="nlp",
            subcategory="tables",
            labels={"table": "correlation", "format": "TSV"},
        ),
    log:
        "logs/nlp/summarize_nlp_transfer.log",
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        sources=get_nlp_source_info,
        correlation=config["nlp"]["correlation"],
    script:
        "../scripts/nlp/summarize.py"


rule plot_nlp_transfer:
    input:
        transfer="results/nlp/transfer.tsv",
        correlation="results/nlp/correlation.tsv",
    output:
        figure3=report(
            "results/nlp/figure3.png",
            caption="../report/nlp_figure3.rst",
            category="nlp",
            subcategory="figures",
            labels={"figure": "Figure 3 (text)"},
        ),
        figure3_svg="results/nlp/figure3.svg",
        scatter=report(
            "results/nlp/scatter.png",
            caption="../report/nlp_scatter.rst",
            category="nlp",
            subcategory="figures",
            labels={"figure": "scatter"},
        ),
        scatter_svg="results/nlp/scatter.svg",
    log:
        "logs/nlp/plot_nlp_transfer.log",
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        # the figure titles name the attack budget
        attack={"max_change_rate": config["nlp"]["attack"]["max_change_rate"]},
    script:
        "../scripts/nlp/plot.py"
