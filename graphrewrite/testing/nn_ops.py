"""Catalogue entries for the neural-network ops: convolutions, MatMul, BiasAdd, batch norms,
padding, resizing and the space/batch reshuffles of atrous convolution.

Every maker works backwards from the output shape: a convolution picks kernel, stride and
padding, then the input size that gives exactly the requested output. Only the NHWC layout is
generated for convolutions (TensorFlow's CPU kernels support nothing else); a pattern that
insists on another layout gets a :class:`CannotBuild` naming it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from graphrewrite.testing.catalogue import (
    POSITIVE,
    CannotBuild,
    Demand,
    Draw,
    Plan,
    Request,
    channel_axis,
    dims,
    int_const,
    prefer,
    register_op,
)

F32 = frozenset({"float32"})
CONV_FLOATS = frozenset({"float32", "float64"})


def _nhwc_only(req: Request) -> None:
    layout = req.fixed.get("data_format", "NHWC")
    if layout not in ("NHWC", "NDHWC"):
        raise CannotBuild(f"{req.op} with data_format={layout!r}: TensorFlow's CPU kernels need NHWC")


def _per_dim(req: Request, draw: Draw, key: str, count: int, high: int, *, same: bool = False) -> list[int]:
    """Spatial strides or dilations: the pattern's, else drawn (shrinking toward 1)."""
    if key in req.fixed:
        return [int(v) for v in req.fixed[key][1:-1]]
    if high == 1:
        return [1] * count
    if same:
        return [draw(dims(1, high))] * count
    return [draw(dims(1, high)) for _ in range(count)]


def _padding(req: Request, draw: Draw) -> str:
    padding = req.attr(draw, "padding", st.sampled_from(["VALID", "SAME"]))
    if padding not in ("VALID", "SAME"):
        raise CannotBuild(f"{req.op} with padding={padding!r} is not generated")
    return str(padding)


def input_size(draw: Draw, out: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    """An input length for which the convolution gives *out* outputs."""
    effective = (kernel - 1) * dilation + 1
    if padding == "VALID":
        low = (out - 1) * stride + effective
        return int(draw(st.integers(low, low + stride - 1)))
    return int(draw(st.integers((out - 1) * stride + 1, out * stride)))


def output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "VALID":
        return (size - kernel) // stride + 1
    return -(-size // stride)


def _conv(draw: Draw, req: Request) -> Plan:
    _nhwc_only(req)
    spec = req.spec
    spatial = spec.rank - 2
    depthwise = req.op == "DepthwiseConv2dNative"
    strides = _per_dim(req, draw, "strides", spatial, 2, same=depthwise)
    dilations = _per_dim(req, draw, "dilations", spatial, 1)
    padding = _padding(req, draw)
    kernel = [draw(dims(1, 3 if spatial == 2 else 2)) for _ in range(spatial)]
    sizes = [input_size(draw, o, k, s, d, padding) for o, k, s, d in zip(spec.shape[1:-1], kernel, strides, dilations, strict=True)]
    out_channels = spec.shape[-1]
    if depthwise:
        multiplier = draw(st.sampled_from([m for m in range(1, out_channels + 1) if out_channels % m == 0]))
        in_channels, last = out_channels // multiplier, multiplier
    else:
        # As in real networks, often as many input channels as output channels.
        in_channels = prefer(draw, out_channels, [1, 2, 3, 4])
        last = out_channels
    values: dict[str, Any] = {
        "T": spec.dtype,
        "strides": [1, *strides, 1],
        "dilations": [1, *dilations, 1],
        "padding": padding,
        "data_format": "NHWC" if spatial == 2 else "NDHWC",
    }
    x = Demand(spec.with_shape([spec.shape[0], *sizes, in_channels]))
    w = Demand(spec.with_shape([*kernel, in_channels, last]), const=True)
    return Plan(values, (x, w))


def _conv_backprop_input(draw: Draw, req: Request) -> Plan:
    _nhwc_only(req)
    spec = req.spec
    strides = _per_dim(req, draw, "strides", 2, 2)
    padding = _padding(req, draw)
    kernel = [draw(dims(1, min(3, n) if padding == "VALID" else 3)) for n in spec.shape[1:3]]
    grad = [output_size(n, k, s, padding) for n, k, s in zip(spec.shape[1:3], kernel, strides, strict=True)]
    out_channels = draw(dims(1, 4))
    values = {"T": spec.dtype, "strides": [1, *strides, 1], "padding": padding, "data_format": "NHWC"}
    w = Demand(spec.with_shape([*kernel, spec.shape[3], out_channels]), const=True)
    dy = Demand(spec.with_shape([spec.shape[0], *grad, out_channels]))
    return Plan(values, (int_const(spec.shape), w, dy))


def _matmul(draw: Draw, req: Request) -> Plan:
    m, n = req.spec.shape
    transpose_a = bool(req.attr(draw, "transpose_a", st.booleans()))
    transpose_b = bool(req.attr(draw, "transpose_b", st.booleans()))
    k = draw(dims(1, 4))
    a = (k, m) if transpose_a else (m, k)
    b = (n, k) if transpose_b else (k, n)
    values = {"T": req.spec.dtype, "transpose_a": transpose_a, "transpose_b": transpose_b}
    return Plan(values, (Demand(req.spec.with_shape(a)), Demand(req.spec.with_shape(b), const=True)))


def _bias_add(draw: Draw, req: Request) -> Plan:
    layout = req.fixed.get("data_format", "NHWC")
    channels = req.spec.shape[channel_axis(req)]
    values = {"T": req.spec.dtype, "data_format": layout}
    return Plan(values, (Demand(req.spec, domain=req.domain), Demand(req.spec.with_shape([channels]), const=True)))


def _batch_norm(draw: Draw, req: Request) -> Plan:
    layout = req.fixed.get("data_format", "NHWC")
    if layout not in ("NHWC", "NCHW"):
        raise CannotBuild(f"{req.op} with data_format={layout!r} is not generated")
    vector = Demand(req.spec.with_shape([req.spec.shape[channel_axis(req)]]), const=True)
    variance = Demand(vector.spec, const=True, domain=POSITIVE)
    values: dict[str, Any] = {
        "T": req.spec.dtype,
        "epsilon": req.attr(draw, "epsilon", st.sampled_from([0.001, 1e-5])),
        "is_training": bool(req.fixed.get("is_training", False)),
        "data_format": layout,
    }
    if req.op != "FusedBatchNorm":
        values["U"] = "float32"
    return Plan(values, (Demand(req.spec), vector, vector, vector, variance))


def _global_norm(draw: Draw, req: Request) -> Plan:
    vector = Demand(req.spec.with_shape([req.spec.shape[-1]]), const=True)
    values = {
        "T": req.spec.dtype,
        "variance_epsilon": req.attr(draw, "variance_epsilon", st.sampled_from([0.001, 1e-5])),
        "scale_after_normalization": bool(req.attr(draw, "scale_after_normalization", st.booleans())),
    }
    variance = Demand(vector.spec, const=True, domain=POSITIVE)
    return Plan(values, (Demand(req.spec), vector, variance, vector, vector))


def _pads(draw: Draw, req: Request, mirror: str | None) -> tuple[list[list[int]], list[int]]:
    """Paddings and the input shape they turn into the requested output."""
    shape = req.spec.shape
    spatial_only = req.spec.rank == 4 and draw(st.booleans())
    paddings, source = [], []
    for axis, out in enumerate(shape):
        before, after = (0, 0)
        if not (spatial_only and axis in (0, 3)):
            before, after = draw(dims(0, 2)), draw(dims(0, 2))
        size = out - before - after
        limit = size - 1 if mirror == "REFLECT" else size
        if size < 1 or (mirror and max(before, after) > limit):
            before, after, size = 0, 0, out
        paddings.append([before, after])
        source.append(size)
    return paddings, source


def _pad(draw: Draw, req: Request) -> Plan:
    mode = None
    values: dict[str, Any] = {"T": req.spec.dtype, "Tpaddings": "int32"}
    if req.op == "MirrorPad":
        mode = str(req.attr(draw, "mode", st.sampled_from(["REFLECT", "SYMMETRIC"])))
        values["mode"] = mode
    paddings, source = _pads(draw, req, mode)
    inputs = [Demand(req.spec.with_shape(source)), int_const(paddings)]
    if req.op == "PadV2":
        inputs.append(Demand(req.spec.with_shape(()), const=True))
    return Plan(values, tuple(inputs))


def _resize(draw: Draw, req: Request) -> Plan:
    n, height, width, channels = req.spec.shape
    align = bool(req.attr(draw, "align_corners", st.booleans()))
    half = bool(req.attr(draw, "half_pixel_centers", st.just(False) if align else st.booleans()))
    source = [n, draw(dims(1, 4)), draw(dims(1, 4)), channels]
    values = {"T": "float32", "align_corners": align, "half_pixel_centers": half}
    return Plan(values, (Demand(req.spec.with_shape(source)), int_const([height, width])))


def _space_to_batch(draw: Draw, req: Request) -> Plan:
    batch, height, width, channels = req.spec.shape
    block = draw(st.sampled_from([b for b in (1, 2, 3) if batch % (b * b) == 0]))
    paddings, source = [], [batch // (block * block)]
    for out in (height, width):
        total = draw(dims(0, block - 1))
        before = draw(dims(0, total))
        paddings.append([before, total - before])
        source.append(out * block - total)
    values = {"T": req.spec.dtype, "Tblock_shape": "int32", "Tpaddings": "int32"}
    x = Demand(req.spec.with_shape([*source, channels]))
    return Plan(values, (x, int_const([block, block]), int_const(paddings)))


def _batch_to_space(draw: Draw, req: Request) -> Plan:
    batch, height, width, channels = req.spec.shape
    block = draw(dims(1, 2))
    crops, source = [], [batch * block * block]
    for out in (height, width):
        total = (-out) % block
        before = draw(dims(0, total))
        crops.append([before, total - before])
        source.append((out + total) // block)
    values = {"T": req.spec.dtype, "Tblock_shape": "int32", "Tcrops": "int32"}
    x = Demand(req.spec.with_shape([*source, channels]))
    return Plan(values, (x, int_const([block, block]), int_const(crops)))


R4 = frozenset({4})
register_op("Conv2D", _conv, ranks=R4, dtypes=CONV_FLOATS, arity=(2, 2))
register_op("DepthwiseConv2dNative", _conv, ranks=R4, dtypes=CONV_FLOATS, arity=(2, 2))
register_op("Conv3D", _conv, ranks=frozenset({5}), dtypes=CONV_FLOATS, arity=(2, 2))
register_op("Conv2DBackpropInput", _conv_backprop_input, ranks=R4, dtypes=F32, rank_inputs=(2,), arity=(3, 3))
register_op("MatMul", _matmul, ranks=frozenset({2}), dtypes=CONV_FLOATS | {"int32"}, rank_inputs=(0,), arity=(2, 2))
register_op("BiasAdd", _bias_add, ranks=frozenset({2, 3, 4}), arity=(2, 2))
for _op in ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"):
    register_op(_op, _batch_norm, ranks=R4, dtypes=F32, arity=(5, 5))
register_op("BatchNormWithGlobalNormalization", _global_norm, ranks=R4, dtypes=F32, arity=(5, 5))
for _op in ("Pad", "PadV2", "MirrorPad"):
    register_op(_op, _pad, ranks=frozenset(range(1, 5)), arity=(2, 3 if _op == "PadV2" else 2))
for _op in ("ResizeBilinear", "ResizeNearestNeighbor"):
    register_op(_op, _resize, ranks=R4, dtypes=F32, arity=(2, 2))
register_op("SpaceToBatchND", _space_to_batch, ranks=R4, dtypes=CONV_FLOATS, arity=(3, 3))
register_op("BatchToSpaceND", _batch_to_space, ranks=R4, dtypes=CONV_FLOATS, arity=(3, 3))
