"""`make bench` stays runnable: its cold-start section runs every API function's first request in a fresh
process with the environment the template gives, so a setting added to the functions must reach it too."""

from __future__ import annotations

import pytest

from tests import bench


def test_every_first_request_of_the_bench_answers_200(capsys: pytest.CaptureFixture[str]) -> None:
    # When the cold-start section runs once per function (it asserts each answer is a 200; the package
    # as deployed needs `sam build` and the wheels from PyPI, so only `make bench` measures it)
    bench.bench_cold_start(lambda: 1.0, repeats=1, deployed=False)
    # Then it prints a figure for every API function it measures
    printed = capsys.readouterr().out
    assert all(name in printed for name in bench.FIRST_REQUESTS), printed
