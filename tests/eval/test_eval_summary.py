"""The shared report helpers: the one percentile (numpy, linear), markdown tables, plots."""

import pytest

from aither_wm.eval.plots import plot_cdf, plot_curve, plot_grouped_bars
from aither_wm.eval.summary import markdown_table, percentile


def test_percentile_interpolates_linearly_between_ranks():
    values = [10.0, 20.0, 30.0, 40.0]  # ranks 0..3: q = 0.5 lies between 20 and 30
    assert percentile(values, 0.5) == 25.0
    assert percentile(values, 0.95) == pytest.approx(38.5)  # 30 + 0.85 * 10
    assert percentile(values, 0.0) == 10.0 and percentile(values, 1.0) == 40.0
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0  # order does not matter


def test_markdown_table_lines():
    assert markdown_table(["a", "b"], [[1, "x"], [2.5, None]]) == [
        "| a | b |",
        "|---|---|",
        "| 1 | x |",
        "| 2.5 | None |",
    ]


def test_shared_plots_write_png_files(tmp_path):
    names = [
        plot_grouped_bars(
            tmp_path / "bars.png",
            ["f1", "f2"],
            {"p": [1.0, 2.0], "q": [0.5, 0.0]},
            ylabel="y",
            title="t",
            errors={"p": ([0.1, 0.1], [0.2, 0.2])},
        ),
        plot_cdf(tmp_path / "cdf.png", {"a": [3.0, 1.0, 2.0], "empty": []}, xlabel="ms", title="t"),
        plot_curve(
            tmp_path / "curve.png", [1.0, 0.5, 0.25], xlabel="step", ylabel="loss", title="t"
        ),
    ]
    assert names == ["bars.png", "cdf.png", "curve.png"]
    for n in names:
        assert (tmp_path / n).read_bytes()[:4] == b"\x89PNG"
