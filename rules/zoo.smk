# Model zoo (docs/method.md §9.8): sources of three architecture families, two sizes each,
# trained on three source data sets, ranked on three target tasks by every adversarial
# measure, every transferability estimator and the size / accuracy / random baselines.
#   results/<run>/zoo/data/{source,target}_<name>.safetensors   source data sets, target tasks
#   results/<run>/zoo/models/<model>.safetensors      sources, and reference_<target> per target
#   results/<run>/zoo/attacks/reference_<target>.safetensors   PGD images of each reference
#   results/<run>/zoo/adversarial/<model>.tsv        one source's adversarial measures, per target
#   results/<run>/zoo/probes/<target>.tsv            full and k-shot probes of every source
#   results/<run>/zoo/estimators/<target>.tsv        every estimator and baseline, every source
#   results/<run>/zoo/transfer.tsv                   all of it, one row per (source, target)
#   results/<run>/zoo/leaderboard.tsv                agreement per target and over targets
#   results/<run>/zoo/leaderboard_robustness.tsv     A beats B: subsets, targets, LOO, no largest
#   results/<run>/zoo/measure_costs.tsv              what each measure needs and costs
#   results/<run>/zoo/{leaderboard,robustness,cost}.png / .svg


wildcard_constraints:
    target="[A-Za-z0-9_]+",


rule build_zoo_data:
    output:
        data=expand(result("zoo/data/{dataset}.safetensors"), dataset=zoo_datasets()),
    log:
        logfile("zoo/build_zoo_data.log"),
    benchmark:
        benchfile("zoo/build_zoo_data.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        data={
            k: config["zoo"][k]
            for k in (
                "split_seed",
                "pool_split",
                "source_split",
                "target_split",
                "datasets",
                "targets",
            )
        },
    script:
        "../scripts/zoo/build_data.py"


rule train_zoo_model:
    input:
        data=get_zoo_training_data,
    output:
        model=result("zoo/models/{model}.safetensors"),
        meta=result("zoo/models/{model}.json"),
    log:
        logfile("zoo/train_zoo_model/{model}.log"),
    benchmark:
        benchfile("zoo/train_zoo_model/{model}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    params:
        train=get_zoo_training_setting,
    script:
        "../scripts/zoo/train_model.py"


rule attack_zoo_reference:
    input:
        model=lambda wc: result(f"zoo/models/{zoo_reference(wc.target)}.safetensors"),
        data=result("zoo/data/target_{target}.safetensors"),
    output:
        adv=result("zoo/attacks/reference_{target}.safetensors"),
    log:
        logfile("zoo/attack_zoo_reference/{target}.log"),
    benchmark:
        benchfile("zoo/attack_zoo_reference/{target}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=30,
    params:
        attack=config["zoo"]["attack"],
    script:
        "../scripts/zoo/attack_reference.py"


rule measure_zoo_adversarial:
    input:
        unpack(get_zoo_targets),
        source=result("zoo/models/{model}.safetensors"),
    output:
        rows=result("zoo/adversarial/{model}.tsv"),
    log:
        logfile("zoo/measure_zoo_adversarial/{model}.log"),
    benchmark:
        benchfile("zoo/measure_zoo_adversarial/{model}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=30,
    params:
        targets=zoo_targets(),
        attack=config["zoo"]["attack"],
        jacobian={
            k: config["zoo"][k]
            for k in (
                "jacobian_points",
                "jacobian_output",
                "jacobian_method",
                "jacobian_memory_mb",
            )
        },
    script:
        "../scripts/zoo/measure_adversarial.py"


rule probe_zoo:
    input:
        models=get_zoo_source_models(),
        data=result("zoo/data/target_{target}.safetensors"),
    output:
        table=result("zoo/probes/{target}.tsv"),
    log:
        logfile("zoo/probe_zoo/{target}.log"),
    benchmark:
        benchfile("zoo/probe_zoo/{target}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=30,
    params:
        models=list(zoo_sources()),
        probe=config["zoo"]["probe"],
    script:
        "../scripts/zoo/fit_probes.py"


rule score_zoo_estimators:
    input:
        models=get_zoo_source_models(),
        data=result("zoo/data/target_{target}.safetensors"),
        checked=[],
    output:
        scores=result("zoo/estimators/{target}.tsv"),
    log:
        logfile("zoo/score_zoo_estimators/{target}.log"),
    benchmark:
        benchfile("zoo/score_zoo_estimators/{target}.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    params:
        specs=get_zoo_source_specs(),
        estimators=config["leaderboard"]["estimators"],
        split=config["leaderboard"]["split"],
        batch_size=config["leaderboard"]["batch_size"],
        settings={k: config["leaderboard"][k] for k in ("knn", "transrate", "gbc")},
    script:
        "../scripts/leaderboard/score_estimators.py"


rule summarize_zoo:
    input:
        unpack(get_zoo_tables),
    output:
        transfer=report(
            result("zoo/transfer.tsv"),
            caption="../report/zoo_transfer.rst",
            category="zoo",
            subcategory="tables",
            labels={"table": "transfer", "format": "TSV"},
        ),
    log:
        logfile("zoo/summarize_zoo.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        sources=zoo_sources(),
        targets=zoo_targets(),
    script:
        "../scripts/zoo/summarize.py"


rule rank_zoo:
    input:
        unpack(get_zoo_benchmarks),
        transfer=result("zoo/transfer.tsv"),
    output:
        board=report(
            result("zoo/leaderboard.tsv"),
            caption="../report/zoo_leaderboard.rst",
            category="zoo",
            subcategory="tables",
            labels={"table": "leaderboard", "format": "TSV"},
        ),
        robustness=report(
            result("zoo/leaderboard_robustness.tsv"),
            caption="../report/zoo_robustness.rst",
            category="zoo",
            subcategory="tables",
            labels={"table": "leaderboard_robustness", "format": "TSV"},
        ),
        costs=report(
            result("zoo/measure_costs.tsv"),
            caption="../report/zoo_costs.rst",
            category="zoo",
            subcategory="tables",
            labels={"table": "measure_costs", "format": "TSV"},
        ),
    log:
        logfile("zoo/rank_zoo.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        estimators=config["leaderboard"]["estimators"],
        adversarial=config["leaderboard"]["adversarial"],
        truth=config["leaderboard"]["truth"],
        ranking=config["zoo"]["ranking"],
        robustness=config["zoo"]["robustness"],
    script:
        "../scripts/zoo/rank.py"


rule plot_zoo:
    input:
        board=result("zoo/leaderboard.tsv"),
        robustness=result("zoo/leaderboard_robustness.tsv"),
        costs=result("zoo/measure_costs.tsv"),
    output:
        leaderboard=report(
            result("zoo/leaderboard.png"),
            caption="../report/zoo_leaderboard_figure.rst",
            category="zoo",
            subcategory="figures",
            labels={"figure": "leaderboard"},
        ),
        leaderboard_svg=result("zoo/leaderboard.svg"),
        robustness=report(
            result("zoo/robustness.png"),
            caption="../report/zoo_robustness_figure.rst",
            category="zoo",
            subcategory="figures",
            labels={"figure": "robustness"},
        ),
        robustness_svg=result("zoo/robustness.svg"),
        cost=report(
            result("zoo/cost.png"),
            caption="../report/zoo_cost_figure.rst",
            category="zoo",
            subcategory="figures",
            labels={"figure": "cost"},
        ),
        cost_svg=result("zoo/cost.svg"),
    log:
        logfile("zoo/plot_zoo.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        truth=config["leaderboard"]["truth"][0],
    script:
        "../scripts/zoo/plot.py"
