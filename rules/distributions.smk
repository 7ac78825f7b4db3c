# Knowledge transfer among data distributions (Liang et al. §4.2, App. G.2; docs/method.md §9.2).
# Data construction lives here; training, attacks and measures are the shared image
# stages of rules/transfer.smk.


rule build_distribution_datasets:
    output:
        data=expand(
            result("distributions/data/{dataset}.safetensors"),
            dataset=distribution_datasets(),
        ),
    log:
        logfile("distributions/build_distribution_datasets.log"),
    benchmark:
        benchfile("distributions/build_distribution_datasets.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        # paper scale holds CIFAR-10 and STL-10 in memory at once
        mem_mb=8000,
        runtime=30,
    params:
        data=distribution_data_config(),
    script:
        "../scripts/distributions/build_datasets.py"
