# Input functions of the run-wide pages (rules/findings.smk): the findings page, an HTML
# rendering of every final result table, and the data dictionary (schemas/outputs.yaml).

#: Result tables the findings page reads, per scenario: {scenario: [paths]}. Scenarios
#: without an entry (leaderboard, byo) add no section of their own (the leaderboard's best
#: estimator appears in its pool's section).
FINDINGS_TABLES = {
    "synthetic": [result("synthetic/sweep.tsv")],
    "distributions": [result("distributions/correlation.tsv")],
    "attributes": [result("attributes/correlation.tsv")],
    "tasks": [result("tasks/entropy.tsv")],
    "nlp": [result("nlp/correlation.tsv")],
    "zoo": [result("zoo/leaderboard.tsv")],
}
#: Scenarios whose result folder holds tables rendered as HTML.
TABLE_SECTIONS = [
    "synthetic",
    "distributions",
    "attributes",
    "tasks",
    "nlp",
    "byo",
    "zoo",
]
DATA_DICTIONARY = str(Path(workflow.basedir) / "schemas/outputs.yaml")


def get_findings_tables(wildcards=None):
    """{scenario: {"tables": [...], "leaderboard": path or ""}} of the scenarios being run."""
    boards = (
        set(config["leaderboard"]["scenarios"]) & set(config["scenarios"])
        if "leaderboard" in config["scenarios"]
        else set()
    )
    out = {}
    for scenario in config["scenarios"]:
        if scenario in FINDINGS_TABLES:
            board = result(f"{scenario}/leaderboard.tsv") if scenario in boards else ""
            out[scenario] = {"tables": FINDINGS_TABLES[scenario], "leaderboard": board}
    return out


def get_findings_inputs(wildcards):
    """Every table the findings page reads, and the data dictionary (directions)."""
    tables = [
        p
        for entry in get_findings_tables().values()
        for p in [*entry["tables"], entry["leaderboard"]]
        if p
    ]
    return {"tables": tables, "dictionary": DATA_DICTIONARY}


def get_findings_settings(wildcards):
    """What the page needs from the config: primary hypotheses and the tasks' k."""
    settings = {}
    for scenario in get_findings_tables():
        section = config.get(scenario, {})
        inference = section.get("correlation") or section.get("ranking") or {}
        primary = inference.get("primary") or {}
        settings[scenario] = {
            "primary": (
                [primary.get("adversarial"), primary.get("knowledge")]
                if primary
                else None
            )
        }
    if "tasks" in settings:
        settings["tasks"]["k"] = config["tasks"]["tree"]["report_k"]
    return settings


def findings_outputs(outputs):
    """The findings page (a default target): Markdown, reStructuredText, the report's HTML
    and the report's front page."""
    return [
        result("findings.md"),
        result("findings.rst"),
        result("findings.html"),
        result("report_front.rst"),
    ]


def table_page_outputs(outputs):
    """An HTML page beside every final top-level result table of a scenario folder
    (results/<run>/<scenario>/<table>.tsv)."""
    pages = []
    for path in outputs:
        parts = Path(path).parts
        if path.endswith(".tsv") and len(parts) == 4 and parts[2] in TABLE_SECTIONS:
            pages.append(str(Path(path).with_suffix(".html")))
    return pages


def dictionary_outputs(outputs):
    """The data dictionary as a report page (a default target)."""
    return [result("data_dictionary.html")]
