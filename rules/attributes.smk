# Knowledge transfer among attributes (Liang et al. §4.3, Table 1; docs/method.md §9.3).
# Attribute classifiers are the sources, a recognition (identity) model the reference.
# Training, PGD and the adversarial measures are the shared image stages of
# rules/transfer.smk; the data, the verification / identity-probe measures and the
# summary (which adds normalised adversarial transferability and Table 1) live here.
#   results/<run>/attributes/data/{target,probe}.safetensors, data/pairs/<benchmark>.safetensors
#   results/<run>/attributes/recognition/<model>.tsv   verification + identity probe per model
#   results/<run>/attributes/{transfer,correlation,table1}.tsv, table1.png/.svg, scatter.png/.svg


# The attributes summary replaces the generic one of rules/transfer.smk for this scenario.
ruleorder: summarize_attributes > summarize_transfer
ruleorder: plot_attributes > plot_transfer


rule build_attribute_datasets:
    output:
        target=result("attributes/data/target.safetensors"),
        probe=result("attributes/data/probe.safetensors"),
        pairs=expand(
            result("attributes/data/pairs/{benchmark}.safetensors"),
            benchmark=attribute_benchmarks(),
        ),
    log:
        logfile("attributes/build_attribute_datasets.log"),
    benchmark:
        benchfile("attributes/build_attribute_datasets.tsv")
    conda:
        "../envs/advtransfer.yaml"
    # JPEG decoding of CelebA and the .bin benchmarks runs in threads
    threads: 4 if attributes_at_paper_scale() else 1
    resources:
        # paper scale holds the CelebA train partition as uint8 112x112 crops (~6 GB)
        mem_mb=24000 if attributes_at_paper_scale() else 2000,
        runtime=120 if attributes_at_paper_scale() else 10,
    params:
        data=attribute_data_config(),
    script:
        "../scripts/attributes/build_datasets.py"


rule measure_recognition:
    input:
        model=result("attributes/models/{model}.safetensors"),
        probe=result("attributes/data/probe.safetensors"),
        pairs=get_attribute_pairs,
    output:
        row=result("attributes/recognition/{model}.tsv"),
    log:
        logfile("attributes/measure_recognition/{model}.log"),
    benchmark:
        benchfile("attributes/measure_recognition/{model}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        # embeddings of every benchmark image (twice with flip) through the network
        gpu=1,
        mem_mb=8000,
        runtime=30,
    params:
        benchmarks=attribute_benchmarks(),
        verification=config["attributes"]["verification"],
        probe=config["attributes"]["probe"],
    script:
        "../scripts/attributes/measure_recognition.py"


rule summarize_attributes:
    input:
        unpack(get_attribute_tables),
    output:
        transfer=report(
            result("attributes/transfer.tsv"),
            caption="../report/attributes_transfer.rst",
            category="attributes",
            subcategory="tables",
            labels={"table": "transfer", "format": "TSV"},
        ),
        correlation=report(
            result("attributes/correlation.tsv"),
            caption="../report/attributes_correlation.rst",
            category="attributes",
            subcategory="tables",
            labels={"table": "correlation", "format": "TSV"},
        ),
        table1=report(
            result("attributes/table1.tsv"),
            caption="../report/attributes_table1.rst",
            category="attributes",
            subcategory="tables",
            labels={"table": "table1", "format": "TSV"},
        ),
    log:
        logfile("attributes/summarize_attributes.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        sources=get_attribute_sources,
        benchmarks=attribute_benchmarks(),
        correlation=config["attributes"]["correlation"],
        top=config["attributes"]["table1"]["top"],
    script:
        "../scripts/attributes/summarize.py"


rule plot_attributes:
    input:
        transfer=result("attributes/transfer.tsv"),
        correlation=result("attributes/correlation.tsv"),
        table1=result("attributes/table1.tsv"),
    output:
        table1=report(
            result("attributes/table1.png"),
            caption="../report/attributes_table1.rst",
            category="attributes",
            subcategory="figures",
            labels={"figure": "Table 1"},
        ),
        table1_svg=result("attributes/table1.svg"),
        scatter=report(
            result("attributes/scatter.png"),
            caption="../report/attributes_scatter.rst",
            category="attributes",
            subcategory="figures",
            labels={"figure": "scatter"},
        ),
        scatter_svg=result("attributes/scatter.svg"),
    log:
        logfile("attributes/plot_attributes.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        benchmarks=attribute_benchmarks(),
        dataset=config["attributes"]["dataset"],
        # the figure titles name the attack setting
        attack={k: config["attributes"]["attack"][k] for k in ("eps", "steps")},
    script:
        "../scripts/attributes/plot.py"
