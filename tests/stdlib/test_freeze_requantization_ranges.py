"""freeze_requantization_ranges and GTT's calibration flow, end to end.

quantize_nodes -> insert_logging(op=RequantizationRange, show_name=true,
message="__requant_min_max:") -> run the logged graph, stderr to a file ->
freeze_requantization_ranges(min_max_log_file=...) on the quantize_nodes output.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphrewrite import _tf
from graphrewrite.engine.errors import GraphFileError, NameNotFoundError, RuleError, UsageError
from graphrewrite.stdlib_rules.freeze_ranges import (
    FREEZE_REQUANTIZATION_RANGES,
    RangeRecord,
    parse_line,
    percentile_range,
)
from graphrewrite.stdlib_rules.insert_logging import INSERT_LOGGING
from graphrewrite.stdlib_rules.quantize_nodes import QUANTIZE_NODES
from tests.helpers.compression import apply, build, const_value, gtt, nodes, run, run_logged

SHAPE = (2, 8, 8, 3)
MESSAGE = "__requant_min_max:"


def float_graph():
    tf = _tf.tf()
    rng = np.random.RandomState(23)

    def body():
        x = tf.compat.v1.placeholder(tf.float32, SHAPE, name="x")
        y = tf.nn.conv2d(x, tf.constant(rng.randn(3, 3, 3, 8).astype(np.float32)), [1, 1, 1, 1], "SAME", name="conv")
        y = tf.nn.relu(tf.nn.bias_add(y, tf.constant(rng.randn(8).astype(np.float32)), name="bias"), name="relu")
        y = tf.matmul(tf.reshape(y, [2, -1]), tf.constant(rng.randn(512, 4).astype(np.float32) / 20), name="fc")
        tf.identity(y, name="y")

    return build(body)


def calibrate(quantized, tmp_path, runs=6):
    """The log of *runs* runs of the logged graph, as a file."""
    logged, _ = apply(INSERT_LOGGING, quantized, ["x"], ["y"], op=["RequantizationRange"], show_name=True,
                      message=MESSAGE)
    rng = np.random.RandomState(0)
    text = ""
    for _ in range(runs):
        _, log = run_logged(logged, {"x": rng.uniform(-1, 1, SHAPE).astype(np.float32)}, ["y"])
        text += log
    path = tmp_path / "ranges.log"
    path.write_text("I0000 some unrelated TensorFlow line\n" + text)
    return path


def test_calibration_flow_replaces_every_requantization_range(tmp_path):
    graph_def = float_graph()
    quantized, _ = apply(QUANTIZE_NODES, graph_def, ["x"], ["y"])
    ranges = [n.name for n in quantized.node if n.op == "RequantizationRange"]
    assert len(ranges) == 3  # conv, bias, fc
    path = calibrate(quantized, tmp_path)
    assert path.read_text().count(MESSAGE) == 18
    frozen, _ = apply(FREEZE_REQUANTIZATION_RANGES, quantized, ["x"], ["y"], min_max_log_file=str(path))
    by_name = nodes(frozen)
    assert not any(n.op == "RequantizationRange" for n in frozen.node)
    for name in ranges:
        assert by_name[f"{name}/frozen_min"].op == "Const"
        requantize = by_name[name.replace("requant_range", "requantize")]
        assert list(requantize.input[3:]) == [f"{name}/frozen_min", f"{name}/frozen_max"]
    x = np.random.RandomState(9).uniform(-1, 1, SHAPE).astype(np.float32)
    (want,) = run(graph_def, {"x": x}, ["y"])
    (got,) = run(frozen, {"x": x}, ["y"])
    assert np.abs(got - want).max() <= 0.05 * np.abs(want).max()


@pytest.mark.gtt
def test_frozen_ranges_equal_gtt_on_the_same_log(tmp_path):
    quantized, _ = apply(QUANTIZE_NODES, float_graph(), ["x"], ["y"])
    path = calibrate(quantized, tmp_path)
    mine = nodes(apply(FREEZE_REQUANTIZATION_RANGES, quantized, ["x"], ["y"], min_max_log_file=str(path),
                       min_percentile=20.0, max_percentile=10.0)[0])
    theirs = nodes(gtt(quantized, ["x"], ["y"],
                       f'freeze_requantization_ranges(min_max_log_file="{path}", min_percentile=20, max_percentile=10)'))
    frozen = [n for n in theirs if n.endswith(("/frozen_min", "/frozen_max"))]
    assert len(frozen) == 6
    for name in frozen:
        assert const_value(mine[name]).tobytes() == const_value(theirs[name]).tobytes(), name


def test_log_lines_are_parsed_as_gtt_parses_them():
    line = ";conv/eightbit/requant_range__print__;__requant_min_max:[-1.5][2.25]"
    assert parse_line(line) == RangeRecord("conv/eightbit/requant_range", -1.5, 2.25)
    assert parse_line("I1122 12:00 logging.cc] " + line) == parse_line(line)
    assert parse_line(";a__print__;__requant_min_max:[-1.bad][2]") is None
    assert parse_line(";a__print__;__requant_min_max:[1][2][3]") is None
    assert parse_line(";a__print__;__requant_min_max:[1_0][2]") is None
    assert parse_line(";a;__requant_min_max:[1][2]") is None  # no __print__ before the values
    assert parse_line("__requant_min_max:[1][2]") is None


def test_percentiles_pick_as_gtt():
    mins, maxs = [float(v) for v in range(10)], [float(v) for v in range(10, 20)]
    assert percentile_range(mins, maxs, 5.0, 5.0) == (1.0, 19.0)  # round(0.5)=1, round(9.5)=10 -> 9
    assert percentile_range(mins, maxs, 0.0, 0.0) == (0.0, 19.0)
    assert percentile_range(mins, maxs, 100.0, 100.0) == (9.0, 10.0)  # GTT would read past the end
    assert percentile_range([3.0], [4.0], 5.0, 5.0) == (3.0, 4.0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, width=32), min_size=1, max_size=40), st.floats(0, 100), st.floats(0, 100))
def test_property_frozen_range_is_an_observed_value_within_the_logged_span(values, low_pct, high_pct):
    low, high = percentile_range(values, values, low_pct, high_pct)
    assert low in values and high in values
    assert min(values) <= low <= max(values) and min(values) <= high <= max(values)


def test_errors_name_the_file_or_the_node(tmp_path):
    quantized, _ = apply(QUANTIZE_NODES, float_graph(), ["x"], ["y"])
    empty = tmp_path / "empty.log"
    empty.write_text("nothing here\n")
    with pytest.raises(RuleError, match=r"no min/max range logs were found in '.*empty.log'"):
        apply(FREEZE_REQUANTIZATION_RANGES, quantized, ["x"], ["y"], min_max_log_file=str(empty))
    with pytest.raises(GraphFileError, match=r"missing\.log"):
        apply(FREEZE_REQUANTIZATION_RANGES, quantized, ["x"], ["y"], min_max_log_file=str(tmp_path / "missing.log"))
    with pytest.raises(UsageError, match="min_max_log_file=<path>"):
        apply(FREEZE_REQUANTIZATION_RANGES, quantized, ["x"], ["y"], min_max_log_file="")
    stale = tmp_path / "stale.log"
    stale.write_text(";conv/eightbit/requant_rang__print__;__requant_min_max:[0][1]\n")
    with pytest.raises(NameNotFoundError, match=r"requant_rang.*did you mean 'conv/eightbit/requant_range'"):
        apply(FREEZE_REQUANTIZATION_RANGES, quantized, ["x"], ["y"], min_max_log_file=str(stale))
    wrong = tmp_path / "wrong.log"
    wrong.write_text(";conv/eightbit__print__;__requant_min_max:[0][1]\n")
    with pytest.raises(RuleError, match="'conv/eightbit' in the log is a QuantizedConv2D"):
        apply(FREEZE_REQUANTIZATION_RANGES, quantized, ["x"], ["y"], min_max_log_file=str(wrong))
