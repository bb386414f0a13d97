"""lvr.config beyond loading: `check_fields` (configs built directly), `read_mapping` (the one file loader)
and `click_option` (CLI flags written from a config field, HfArgumentParser-style)."""
from __future__ import annotations

from dataclasses import dataclass

import click
import pytest
from click.testing import CliRunner

from lvr.config import ConfigError, check_fields, click_option, click_options, field_values, option, read_mapping


@dataclass
class Job:
    frames: int = option(8, "frames per clip", ge=1)
    rate: float | None = option(None, "sampling rate", gt=0, le=2)
    split: str | None = option(None, "split of new items", choices=("sft", "rl", "eval"))
    videos: tuple[str, ...] | None = option(None, "only these videos")
    overwrite: bool = option(False, "redo finished units")
    figures: bool = option(True, "write the figures")

    def __post_init__(self) -> None:
        check_fields(self)


def test_check_fields_coerces_and_names_the_field():
    job = Job(frames=3.0, rate=1, videos=["a", "b"])
    assert (job.frames, job.rate, job.videos) == (3, 1.0, ("a", "b"))
    for kwargs, message in [({"frames": 0}, "Job.frames: must be >= 1, got 0"),
                            ({"rate": 0}, "Job.rate: must be > 0, got 0.0"),
                            ({"split": "test"}, "Job.split: must be one of 'sft', 'rl', 'eval', got 'test'"),
                            ({"frames": "many"}, "Job.frames: expected int, got 'many'")]:
        with pytest.raises(ConfigError) as err:
            Job(**kwargs)
        assert str(err.value) == message              # no "(from …)": a directly built config has no source


def test_field_values_checks_a_mapping_without_building():
    assert field_values(Job, {"frames": "4", "split": "rl"}, source="job.json") == {"frames": 4, "split": "rl"}
    with pytest.raises(ConfigError, match=r"unknown key frame \(from job.json\) \(did you mean frames\?\)"):
        field_values(Job, {"frame": 4}, source="job.json")


def test_read_mapping_names_the_file(tmp_path):
    p = tmp_path / "x.yaml"
    with pytest.raises(ConfigError, match="model spec .*x.yaml does not exist"):
        read_mapping(p, "model spec")
    p.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="config file .*x.yaml: expected a mapping of keys at top level, got list"):
        read_mapping(p)
    p.write_text("a: [1\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        read_mapping(p)
    p.write_text("")
    assert read_mapping(p) == {}
    p.write_text('{"a": 1}')                           # JSON is YAML
    assert read_mapping(p) == {"a": 1}


@click.command()
@click_options(Job, "frames", "rate", "split")
@click_option(Job, "videos", "--video")
@click_options(Job, "overwrite", "figures")
def job_cmd(**kwargs):
    click.echo(repr(Job(**kwargs)))


def test_click_options_are_written_from_the_fields():
    help_text = CliRunner().invoke(job_cmd, ["--help"]).output
    for text in ("--frames INTEGER RANGE", "frames per clip", "[default: 8; x>=1]", "--rate FLOAT RANGE",
                 "0<x<=2", "--split [sft|rl|eval]", "--video TEXT", "--overwrite", "--figures / --no-figures"):
        assert text in help_text
    assert help_text.index("--frames") < help_text.index("--rate") < help_text.index("--video")
    r = CliRunner().invoke(job_cmd, ["--frames", "2", "--video", "a", "--video", "b", "--overwrite", "--no-figures"])
    assert r.exit_code == 0 and "Job(frames=2, rate=None, split=None, videos=('a', 'b'), overwrite=True, " \
        "figures=False)" in r.output
    r = CliRunner().invoke(job_cmd, [])
    assert "Job(frames=8, rate=None, split=None, videos=()," in r.output     # the commands pass `videos or None`
    r = CliRunner().invoke(job_cmd, ["--frames", "0"])
    assert r.exit_code == 2 and "0 is not in the range x>=1" in r.output
    r = CliRunner().invoke(job_cmd, ["--split", "test"])
    assert r.exit_code == 2 and "'test' is not one of" in r.output


def test_click_option_overrides_and_unknown_fields():
    @click.command()
    @click_option(Job, "frames", "-n", default=None, help="how many")
    def cmd(frames):
        click.echo(repr(frames))

    assert CliRunner().invoke(cmd, []).output.strip() == "None"
    assert CliRunner().invoke(cmd, ["-n", "3"]).output.strip() == "3"
    with pytest.raises(TypeError, match="Job has no field 'frame'"):
        click_option(Job, "frame")
