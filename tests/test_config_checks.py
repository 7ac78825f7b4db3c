"""Parse-time config checks (advtransfer.config): each names the dotted key and the fix."""

from __future__ import annotations

import math
import re

import pytest
import yaml
from conftest import REPO, run_snakemake, tiny_config, write_config

from advtransfer.config import ConfigError, check_config_file, load_schema, validate_config
from advtransfer.distributions.sources import check_group_classes

SCHEMA = load_schema(REPO / "schemas/config.schema.yaml")


def config_with(mutate) -> dict:
    cfg = tiny_config()
    mutate(cfg)
    return cfg


def problems(mutate) -> str:
    with pytest.raises(ConfigError) as err:
        validate_config(config_with(mutate), SCHEMA, checks=[check_group_classes])
    return str(err.value)


def test_defaults_and_shipped_configs_pass():
    validate_config(tiny_config(), SCHEMA)
    for path in [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))]:
        validate_config(yaml.safe_load(path.read_text()), SCHEMA)


def _set(path: str, value):
    def mutate(cfg):
        *parents, leaf = path.split(".")
        node = cfg
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    return mutate


@pytest.mark.parametrize(
    ("key", "value", "patterns"),
    [
        # split fractions
        ("distributions.target_split", [0.5, 0.2, 0.2],
         [(r"config key distributions\.target_split: the train/val/test fractions "
          r"\[0\.5, 0\.2, 0\.2\] sum to 0\.9, not 1\. Fix: scale them so that they sum to 1, "
          r"e\.g\. \[0\.5556, 0\.2222, 0\.2222\]")]),
        ("attributes.split", [0.0, 0.5, 0.5],
         [(r"config key attributes\.split: the train fraction \(first entry\) is 0\.0, so the "
          r"train split is empty.*Fix: give it a positive fraction")]),
        ("tasks.digits.split", [1.2, -0.1, -0.1],
         [r"tasks\.digits\.split\[0\]", r"tasks\.digits\.split\[1\]"]),
        # NaN / inf anywhere (the schema's range checks let NaN through)
        ("synthetic.sweep.t", [0.0, math.nan, 1.0],
         [(r"config key synthetic\.sweep\.t\[1\]: nan is not a finite number\. Fix: give a "
          r"finite number")]),
        ("distributions.train.lr", math.inf, [r"config key distributions\.train\.lr: inf is not"]),
        ("tasks.knowledge.ridge", math.nan, [r"config key tasks\.knowledge\.ridge: nan"]),
        # seeds
        ("synthetic.seed", -1,
         [r"config key synthetic\.seed: seed -1 is negative\. Fix: use a non-negative integer"]),
        ("distributions.source_seeds", [0, -2], [(r"config key distributions\.source_seeds\[1\]: "
                                                 r"seed -2 is negative")]),
        ("attributes.split_seed", -3, [r"config key attributes\.split_seed: seed -3"]),
        # eps > 0 for the PGD attacks
        ("distributions.attack.eps", 0.0,
         [(r"config key distributions\.attack\.eps: eps = 0\.0 gives no attack.*Fix: give a "
          r"radius > 0")]),
        ("attributes.attack.eps", 0, [r"config key attributes\.attack\.eps: eps = 0"]),
        # scenarios: [] builds nothing
        ("scenarios", [],
         [(r"config key scenarios: the list is empty.*Fix: name at least one scenario.*"
          r"known: .*synthetic")]),
        # class names of distributions.groups
        ("distributions.groups", {"vehicles": ["one", "elevn"], "animals": ["zero", "three"]},
         [(r"config key distributions\.groups\.vehicles\[1\]: 'elevn' is not a digits class\. "
          r"Fix: use one of zero, one, two")]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_value_names_key_and_fix(key, value, patterns):
    message = problems(_set(key, value))
    for pattern in patterns:
        assert re.search(pattern, message), message


def test_cifar_groups_checked_against_both_data_sets():
    def mutate(cfg):
        d = cfg["distributions"]
        d.update(dataset="cifar10_stl10", download=True, domain_shift="none")
        # frog is a CIFAR-10 class but not an STL-10 one: fine as a source-only class,
        # not in the target group
        d["groups"] = {"vehicles": ["airplane", "frog"], "animals": ["bird", "unicorn"]}

    message = problems(mutate)
    assert "distributions.groups.vehicles[1]: 'frog' is not a STL-10 class" in message
    assert "distributions.groups.animals[1]: 'unicorn' is not a CIFAR-10 class" in message
    assert "vehicles[0]" not in message and "animals[0]" not in message


def test_every_problem_is_listed_at_once():
    def mutate(cfg):
        cfg["synthetic"]["seed"] = -1
        cfg["distributions"]["attack"]["eps"] = 0.0

    message = problems(mutate)
    assert "synthetic.seed" in message and "distributions.attack.eps" in message


# ---------------------------------------------------------------- config files


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("scenarios: [synthetic\nsynthetic:\n  seed: 0\n")
    with pytest.raises(ConfigError, match=rf"config file {re.escape(str(path))}, line \d+, "
                                          r"column \d+: YAML syntax error: .*Fix: correct"):
        check_config_file(path)


def test_tab_indentation_names_line(tmp_path):
    path = tmp_path / "tabs.yaml"
    path.write_text("synthetic:\n  seed: 0\n\tdata: {}\n")
    with pytest.raises(ConfigError, match=r"line 3, column 1"):
        check_config_file(path)


@pytest.mark.parametrize("text", ["", "\n# only a comment\n"])
def test_empty_config_file(tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"config file {re.escape(str(path))}, line 1: the "
                                          r"file is empty \(no keys\)\. Fix:"):
        check_config_file(path)


def test_non_mapping_config_file(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- synthetic\n")
    with pytest.raises(ConfigError, match=r"line 1: the top level is a list, not a mapping"):
        check_config_file(path)


def test_good_config_file_passes():
    check_config_file(REPO / "config.yaml")


def test_command_line_check_names_the_bad_file(tmp_path, capsys):
    from advtransfer.config import main

    bad = tmp_path / "mine.yaml"
    bad.write_text("distributions:\n  attack: {eps: 0.1\n")
    assert main(["check", str(REPO / "config.yaml"), str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"config file {bad}, line 3" in err and "YAML syntax error" in err
    assert main(["run-name", str(REPO / "config.yaml"), str(REPO / "configs/celeba.yaml")]) == 0
    assert capsys.readouterr().out.strip() == "celeba"


def _overrides_comment(text: str) -> str:
    """The key list of a paper config's "# Overrides (...):" comment block."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Overrides ("))
    block = []
    for line in lines[start + 1:]:
        if not line.startswith("#   "):
            break
        block.append(line[4:].strip())
    return " ".join(block)


def _overridden_keys(config: dict) -> str:
    return "; ".join(
        f"{key}.{{{', '.join(sorted(value))}}}" if isinstance(value, dict) else key
        for key, value in config.items()
    )


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_paper_config_says_what_it_overrides_and_has_its_own_run(path):
    """Each config lists the keys it sets (the rest keeps config.yaml's) and its run name."""
    text = path.read_text()
    config = yaml.safe_load(text)
    assert _overrides_comment(text) == _overridden_keys(config), (
        f"{path.name}: the '# Overrides' comment is out of date; it must list "
        f"{_overridden_keys(config)}"
    )
    assert config["run"] == path.stem != "default"


# ---------------------------------------------------------------- through Snakemake


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("scenarios: [synthetic\n", r"config\.yaml, line 2, column 1: YAML syntax error"),
        ("", r"config\.yaml, line 1: the file is empty"),
        ("scenarios: []\n", r"config key scenarios: the list is empty"),
        ("scenarios: [synthetic]\nsynthetic:\n  sweep:\n    t: [0.0, .nan]\n",
         r"config key synthetic\.sweep\.t\[1\]: nan is not a finite number"),
    ],
    ids=["syntax", "empty", "no-scenarios", "nan"],
)
def test_dry_run_stops_on_bad_config_file(tmp_path, text, pattern):
    (tmp_path / "config.yaml").write_text(text)
    proc = run_snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    assert re.search(pattern, proc.stdout + proc.stderr), proc.stdout + proc.stderr


@pytest.mark.workflow
def test_dry_run_of_paper_config_names_missing_data(tmp_path):
    cfg = yaml.safe_load((REPO / "configs/cifar10_stl10.yaml").read_text())
    cfg["distributions"]["data_root"] = str(tmp_path / "nowhere")
    write_config(tmp_path, cfg)
    proc = run_snakemake(tmp_path, "-n", check=False)
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{tmp_path / 'nowhere'}/cifar-10-batches-py/data_batch_1" in message
    assert "download: true" in message and "cifar-10-python.tar.gz" in message
    assert not (tmp_path / "logs").exists()


@pytest.mark.workflow
def test_dry_run_of_celeba_config_names_missing_data(tmp_path):
    cfg = yaml.safe_load((REPO / "configs/celeba.yaml").read_text())
    cfg["attributes"]["data_root"] = str(tmp_path / "nowhere")
    cfg["attributes"]["verification"]["bin_dir"] = str(tmp_path / "bins")
    write_config(tmp_path, cfg)
    proc = run_snakemake(tmp_path, "-n", check=False)
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "CelebA not found under data_root" in message and str(tmp_path / "nowhere") in message
    assert f"{tmp_path / 'bins'}/lfw.bin" in message
