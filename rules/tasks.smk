# Knowledge transfer among tasks (Liang et al. §4.4, App. G.4, Figures 4-5; docs/method.md §9.4).
# digits: build canvases -> train one model per task -> attack each task, score on all ->
#         freeze each encoder, fit heads for all targets -> ATM / affinity -> trees.
#         tau task matrix (both datasets): tau1 / tau2 between every pair of task models'
#         dense outputs (matrix-free), clustered and compared like the ATM.
# taskonomy: import task-bank weights + sample images -> attack each task, score on all ->
#         ATM; affinity from Taskonomy's pickle -> trees.


rule build_task_data:
    input:
        unpack(get_task_images),
    output:
        data=TASK_DATA,
    log:
        logfile("tasks/build_task_data.log"),
    benchmark:
        benchfile("tasks/build_task_data.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        # paper scale holds 1000 RGB images of 256 x 256 in memory
        mem_mb=4000,
        runtime=15,
    params:
        dataset=config["tasks"]["dataset"],
        data=get_task_data_config(),
        tasks=get_task_names,
    script:
        "../scripts/tasks/build_data.py"


rule train_task_model:
    input:
        data=TASK_DATA,
    output:
        model=result("tasks/models/{task}.safetensors"),
        meta=result("tasks/models/{task}.json"),
    log:
        logfile("tasks/train_task_model/{task}.log"),
    benchmark:
        benchfile("tasks/train_task_model/{task}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=2000,
        runtime=30,
    params:
        train=config["tasks"]["train"],
        digits=config["tasks"]["digits"],
        seed=get_task_seed,
    script:
        "../scripts/tasks/train_task_model.py"


rule import_taskbank_model:
    input:
        unpack(get_taskbank_weights),
    output:
        model=result("tasks/taskbank/{task}.safetensors"),
        meta=result("tasks/taskbank/{task}.json"),
    log:
        logfile("tasks/import_taskbank_model/{task}.log"),
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        taskbank=config["tasks"]["taskbank"],
    script:
        "../scripts/tasks/import_taskbank_model.py"


rule attack_task:
    input:
        unpack(get_attack_inputs),
    output:
        losses=result("tasks/adversarial/{task}.tsv"),
    log:
        logfile("tasks/attack_task/{task}.log"),
    benchmark:
        benchfile("tasks/attack_task/{task}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        # paper scale keeps the adversarial images of every eps (1000 x 3 x 256 x 256 each)
        mem_mb=8000,
        runtime=60,
    params:
        attack=config["tasks"]["attack"],
    script:
        "../scripts/tasks/attack_task.py"


rule transfer_task_encoder:
    input:
        source=get_source_model,
        data=TASK_DATA,
    output:
        losses=result("tasks/knowledge/{task}.tsv"),
    log:
        logfile("tasks/transfer_task_encoder/{task}.log"),
    benchmark:
        benchfile("tasks/transfer_task_encoder/{task}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        # feature extraction runs the source encoder over the canvases
        gpu=1,
        mem_mb=2000,
        runtime=20,
    params:
        knowledge=config["tasks"]["knowledge"],
        tasks=get_task_names,
    script:
        "../scripts/tasks/transfer_encoder.py"


rule build_atm:
    input:
        losses=get_adversarial_tables,
    output:
        atm=report(
            result("tasks/atm.tsv"),
            caption="../report/tasks_atm.rst",
            category="tasks",
            subcategory="tables",
            labels={"table": "atm", "format": "TSV"},
        ),
    log:
        logfile("tasks/build_atm.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        tasks=get_task_names,
        self_transfer=config["tasks"]["self_transfer"]["adversarial"],
    script:
        "../scripts/tasks/build_atm.py"


rule build_tau_matrix:
    input:
        models=lambda wc: [task_model_path(t) for t in task_names()],
        data=TASK_DATA,
    output:
        tau=report(
            result("tasks/tau_matrix.tsv"),
            caption="../report/tasks_tau_matrix.rst",
            category="tasks",
            subcategory="tables",
            labels={"table": "tau_matrix", "format": "TSV"},
        ),
    log:
        logfile("tasks/build_tau_matrix.log"),
    benchmark:
        benchfile("tasks/build_tau_matrix.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        # matrix-free: products with the Jacobians of one batch of images, never J itself
        gpu=1,
        mem_mb=4000,
        runtime=30,
    params:
        tau=config["tasks"]["tau"],
        tasks=get_task_names,
    script:
        "../scripts/tasks/build_tau_matrix.py"


rule build_affinity:
    input:
        unpack(get_affinity_inputs),
    output:
        affinity=report(
            result("tasks/affinity.tsv"),
            caption="../report/tasks_affinity.rst",
            category="tasks",
            subcategory="tables",
            labels={"table": "affinity", "format": "TSV"},
        ),
    log:
        logfile("tasks/build_affinity.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        tasks=get_task_names,
        self_transfer=config["tasks"]["self_transfer"]["knowledge"],
    script:
        "../scripts/tasks/build_affinity.py"


rule cluster_tasks:
    input:
        atm=result("tasks/atm.tsv"),
        affinity=result("tasks/affinity.tsv"),
        tau=result("tasks/tau_matrix.tsv"),
    output:
        entropy=report(
            result("tasks/entropy.tsv"),
            caption="../report/tasks_entropy.rst",
            category="tasks",
            subcategory="tables",
            labels={"table": "entropy", "format": "TSV"},
        ),
        clusters=report(
            result("tasks/clusters.tsv"),
            caption="../report/tasks_clusters.rst",
            category="tasks",
            subcategory="tables",
            labels={"table": "clusters", "format": "TSV"},
        ),
    log:
        logfile("tasks/cluster_tasks.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        tree=config["tasks"]["tree"],
        categories=get_task_categories,
    script:
        "../scripts/tasks/cluster_tasks.py"


rule plot_task_trees:
    input:
        atm=result("tasks/atm.tsv"),
        affinity=result("tasks/affinity.tsv"),
        entropy=result("tasks/entropy.tsv"),
    output:
        figure4=report(
            result("tasks/figure4.png"),
            caption="../report/tasks_figure4.rst",
            category="tasks",
            subcategory="figures",
            labels={"figure": "Figure 4"},
        ),
        figure4_svg=result("tasks/figure4.svg"),
        figure5=report(
            result("tasks/figure5.png"),
            caption="../report/tasks_figure5.rst",
            category="tasks",
            subcategory="figures",
            labels={"figure": "Figure 5"},
        ),
        figure5_svg=result("tasks/figure5.svg"),
    log:
        logfile("tasks/plot_task_trees.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        tree=config["tasks"]["tree"],
        categories=get_task_categories,
        dataset=config["tasks"]["dataset"],
        # Figure 4's titles name the attack steps (the radii come from the ATM table)
        attack={"steps": config["tasks"]["attack"]["steps"]},
        self_transfer=config["tasks"]["self_transfer"],
    script:
        "../scripts/tasks/plot_trees.py"


rule plot_task_heatmaps:
    input:
        atm=result("tasks/atm.tsv"),
        affinity=result("tasks/affinity.tsv"),
        tau=result("tasks/tau_matrix.tsv"),
    output:
        heatmaps=[
            report(
                path,
                caption="../report/tasks_heatmap.rst",
                category="tasks",
                subcategory="figures",
                labels={"figure": Path(path).stem},
            )
            for path in task_heatmap_paths("png")
        ],
        svgs=task_heatmap_paths("svg"),
    log:
        logfile("tasks/plot_task_heatmaps.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        # the linkage of the trees that order the heatmaps; not the cut or permutations
        tree={
            key: config["tasks"]["tree"][key]
            for key in ("method", "normalise_columns")
        },
        categories=get_task_categories,
        dataset=config["tasks"]["dataset"],
    script:
        "../scripts/tasks/plot_heatmaps.py"
