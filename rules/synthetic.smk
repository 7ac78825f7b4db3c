# Synthetic RBF regression (Liang et al. §4.1, Figure 2; docs/method.md §9.1).


rule generate_rbf_data:
    output:
        data=result("synthetic/data/rbf.safetensors"),
    log:
        logfile("synthetic/generate_rbf_data.log"),
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        data=config["synthetic"]["data"],
        seed=config["synthetic"]["seed"],
    script:
        "../scripts/synthetic/generate_data.py"


rule train_mlp:
    input:
        data=result("synthetic/data/rbf.safetensors"),
    output:
        model=result("synthetic/models/{mlp}.safetensors"),
        meta=result("synthetic/models/{mlp}.json"),
    log:
        logfile("synthetic/train_mlp/{mlp}.log"),
    benchmark:
        benchfile("synthetic/train_mlp/{mlp}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        train=get_synthetic_model_params,
    script:
        "../scripts/synthetic/train_mlp.py"


rule sweep_transferability:
    input:
        unpack(get_sweep_models),
        data=result("synthetic/data/rbf.safetensors"),
    output:
        table=result("synthetic/sweep/{set}.tsv"),
    log:
        logfile("synthetic/sweep_transferability/{set}.log"),
    benchmark:
        benchfile("synthetic/sweep_transferability/{set}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        sweep=config["synthetic"]["sweep"],
    script:
        "../scripts/synthetic/sweep.py"


rule plot_figure2:
    input:
        tables=expand(result("synthetic/sweep/{set}.tsv"), set=SYNTHETIC_SETS),
        # the figure's description; the plot job appends findings computed from the table
        caption_head=str(Path(workflow.basedir) / "report/synthetic_figure2.rst"),
    output:
        table=report(
            result("synthetic/sweep.tsv"),
            caption="../report/synthetic_sweep.rst",
            category="synthetic",
            subcategory="tables",
            labels={"table": "sweep", "format": "TSV"},
        ),
        png=report(
            result("synthetic/figure2.png"),
            # written by this job; an absolute path (in the working directory) because
            # report() resolves relative captions against rules/, read at report time
            caption=os.path.abspath(result("synthetic/figure2_caption.rst")),
            category="synthetic",
            subcategory="figures",
            labels={"figure": "Figure 2"},
        ),
        svg=result("synthetic/figure2.svg"),
        caption=result("synthetic/figure2_caption.rst"),
    log:
        logfile("synthetic/plot_figure2.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../scripts/synthetic/plot_figure2.py"
