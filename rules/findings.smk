# Run-wide pages, written from the result tables after every scenario's rules:
#   results/<run>/findings.md / .rst / .html   per scenario: the primary hypothesis, its
#                                        coefficient, interval and adjusted p, and a verdict
#   results/<run>/report_front.rst             the report's front page (report/workflow.rst + findings)
#   results/<run>/<scenario>/<table>.html      every final result table, readable in the report
#   results/<run>/data_dictionary.html         schemas/outputs.yaml: meaning, unit and direction
#                                        of every column of every result table


rule write_findings:
    input:
        unpack(get_findings_inputs),
        head=str(Path(workflow.basedir) / "report/workflow.rst"),
    output:
        markdown=result("findings.md"),
        rst=result("findings.rst"),
        html=report(
            result("findings.html"),
            caption="../report/findings.rst",
            # numbered: the report menu sorts categories by name (localeCompare)
            category="1. Findings",
            subcategory="summary",
            labels={"page": "findings"},
        ),
        front=result("report_front.rst"),
    log:
        logfile("findings/write_findings.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        tables=get_findings_tables,
        settings=get_findings_settings,
    script:
        "../scripts/report/write_findings.py"


# One job for all pages (each is a fraction of a second; a job's start-up costs more).
TABLE_PAGES = table_page_outputs(scenario_outputs())


rule render_tables:
    input:
        tables=[str(Path(page).with_suffix(".tsv")) for page in TABLE_PAGES],
        dictionary=DATA_DICTIONARY,
    output:
        pages=[
            report(
                page,
                caption="../report/table_page.rst",
                category=Path(page).parts[2],  # results/<run>/<scenario>/...
                subcategory="tables (readable)",
                labels={"table": Path(page).stem, "format": "HTML"},
            )
            for page in TABLE_PAGES
        ],
    log:
        logfile("findings/render_tables.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/report/render_tables.py"


rule render_data_dictionary:
    input:
        dictionary=DATA_DICTIONARY,
    output:
        page=report(
            result("data_dictionary.html"),
            caption="../report/data_dictionary.rst",
            category="2. Data dictionary",
            subcategory="columns",
            labels={"page": "data dictionary"},
        ),
    log:
        logfile("findings/render_data_dictionary.log"),
    localrule: True
    conda:
        "../envs/advtransfer.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/report/render_dictionary.py"
