# Transferability leaderboard (docs/method.md §9.6): for every scenario with a pool of sources,
# score each source with every estimator on the target training data (one job for the
# pool: a job's start-up costs more than most estimators), rank all measures
# (estimators and adversarial measures) against linear-probe accuracy, and plot.
#   results/<run>/<board>/estimators.tsv           every source's estimator scores and timings
#   results/<run>/<board>/source_scores.tsv        every measure and the truth, one row per source
#   results/<run>/<board>/leaderboard.tsv          agreement with the truth (+ intervals) and cost
#   results/<run>/<board>/leaderboard.png / .svg   the leaderboard figure


rule score_estimators:
    input:
        unpack(get_score_inputs),
    output:
        scores=result("{board}/estimators.tsv"),
    log:
        logfile("{board}/score_estimators.log"),
    benchmark:
        benchfile("{board}/score_estimators.tsv")
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        # one forward pass of every source over the target training images
        gpu=1,
        mem_mb=4000,
        runtime=60,
    params:
        specs=get_source_specs,
        estimators=config["leaderboard"]["estimators"],
        split=config["leaderboard"]["split"],
        batch_size=config["leaderboard"]["batch_size"],
        # per-estimator options (scoring.run_estimators)
        settings={k: config["leaderboard"][k] for k in ("knn", "transrate", "gbc")},
    script:
        "../scripts/leaderboard/score_estimators.py"


rule rank_estimators:
    input:
        unpack(get_board_inputs),
    output:
        board=report(
            result("{board}/leaderboard.tsv"),
            caption="../report/leaderboard_table.rst",
            category="{board}",
            subcategory="tables",
            labels={"table": "leaderboard", "format": "TSV"},
        ),
        sources=report(
            result("{board}/source_scores.tsv"),
            caption="../report/leaderboard_sources.rst",
            category="{board}",
            subcategory="tables",
            labels={"table": "source_scores", "format": "TSV"},
        ),
    log:
        logfile("{board}/rank_estimators.log"),
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
        ranking=config["leaderboard"]["ranking"],
        inference=lambda wc: config.get(wc.board, {}).get("correlation", {}),
        costs=get_cost_layout,
    script:
        "../scripts/leaderboard/rank_estimators.py"


rule plot_leaderboard:
    input:
        board=result("{board}/leaderboard.tsv"),
    output:
        figure=report(
            result("{board}/leaderboard.png"),
            caption="../report/leaderboard_figure.rst",
            category="{board}",
            subcategory="figures",
            labels={"figure": "leaderboard"},
        ),
        figure_svg=result("{board}/leaderboard.svg"),
    log:
        logfile("{board}/plot_leaderboard.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/leaderboard/plot_leaderboard.py"
