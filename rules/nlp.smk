# Knowledge transfer among text data sets (Liang et al. §4.2, NLP; docs/method.md §9.5):
# prepare data + encoder -> fine-tune sources and reference -> TextFooler-style attacks
# -> adversarial measures / linear probes -> summary and figures.
#   results/<run>/nlp/data/<dataset>.csv, .json        normalised data set (split, label, text)
#   results/<run>/nlp/encoder/base.json                the checked pretrained encoder
#   results/<run>/nlp/models/<model>/model.safetensors fine-tuned classifier (+ advtransfer.json)
#   results/<run>/nlp/attacks/<model>.tsv              adversarial sentences of one model
#   results/<run>/nlp/adversarial|probe/<model>.tsv    one row of measures per source
#   results/<run>/nlp/transfer.tsv, correlation.tsv, figure3.*, scatter.*


rule prepare_text_dataset:
    input:
        files=get_nlp_dataset_files,
    output:
        data=result("nlp/data/{dataset}.csv"),
        meta=result("nlp/data/{dataset}.json"),
    log:
        logfile("nlp/prepare_text_dataset/{dataset}.log"),
    benchmark:
        benchfile("nlp/prepare_text_dataset/{dataset}.tsv")
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
        info=result("nlp/encoder/base.json"),
    log:
        logfile("nlp/prepare_text_encoder.log"),
    benchmark:
        benchfile("nlp/prepare_text_encoder.tsv")
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
        encoder=result("nlp/encoder/base.json"),
    output:
        model=result("nlp/models/{model}/model.safetensors"),
        meta=result("nlp/models/{model}/advtransfer.json"),
    log:
        logfile("nlp/finetune_text_classifier/{model}.log"),
    benchmark:
        benchfile("nlp/finetune_text_classifier/{model}.tsv")
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
        attack=result("nlp/attacks/{model}.tsv"),
    log:
        logfile("nlp/attack_textfooler/{model}.log"),
    benchmark:
        benchfile("nlp/attack_textfooler/{model}.tsv")
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
        source=result("nlp/models/{model}/model.safetensors"),
        reference=result("nlp/models/reference/model.safetensors"),
        adv_source=result("nlp/attacks/{model}.tsv"),
        adv_reference=result("nlp/attacks/reference.tsv"),
    output:
        row=result("nlp/adversarial/{model}.tsv"),
    log:
        logfile("nlp/measure_text_adversarial/{model}.log"),
    benchmark:
        benchfile("nlp/measure_text_adversarial/{model}.tsv")
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
        jacobian={
            k: config["nlp"][k] for k in ("jacobian_method", "jacobian_memory_mb")
        },
        batch_size=config["nlp"]["attack"]["batch_size"],
    script:
        "../scripts/nlp/measure_adversarial.py"


rule fit_text_probe:
    input:
        unpack(get_nlp_target_data),
        source=result("nlp/models/{model}/model.safetensors"),
    output:
        row=result("nlp/probe/{model}.tsv"),
    log:
        logfile("nlp/fit_text_probe/{model}.log"),
    benchmark:
        benchfile("nlp/fit_text_probe/{model}.tsv")
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
            result("nlp/transfer.tsv"),
            caption="../report/nlp_transfer_table.rst",
            category="nlp",
            subcategory="tables",
            labels={"table": "transfer", "format": "TSV"},
        ),
        correlation=report(
            result("nlp/correlation.tsv"),
            caption="../report/nlp_correlation_table.rst",
            category="nlp",
            subcategory="tables",
            labels={"table": "correlation", "format": "TSV"},
        ),
    log:
        logfile("nlp/summarize_nlp_transfer.log"),
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
        transfer=result("nlp/transfer.tsv"),
        correlation=result("nlp/correlation.tsv"),
    output:
        figure3=report(
            result("nlp/figure3.png"),
            caption="../report/nlp_figure3.rst",
            category="nlp",
            subcategory="figures",
            labels={"figure": "Figure 3 (text)"},
        ),
        figure3_svg=result("nlp/figure3.svg"),
        scatter=report(
            result("nlp/scatter.png"),
            caption="../report/nlp_scatter.rst",
            category="nlp",
            subcategory="figures",
            labels={"figure": "scatter"},
        ),
        scatter_svg=result("nlp/scatter.svg"),
    log:
        logfile("nlp/plot_nlp_transfer.log"),
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
