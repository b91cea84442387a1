"""Library functions about convolutions: output channels, layouts, dilated filters.

Registered in :data:`graphrewrite.rules.predicates.FUNCTIONS` like every other function; kept
apart because they rely on the op tables of :mod:`graphrewrite.rules.channels`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphrewrite.engine.graph import Node
from graphrewrite.rules import channels
from graphrewrite.rules.expr import Channelled, Env, EvalError, plain, shape_text
from graphrewrite.rules.predicates import bound_arg, known_shape, node_arg, register

# ---- channels --------------------------------------------------------------------------


def _weights(env: Env, w: Any, function: str) -> tuple[Channelled, Node]:
    bound = bound_arg(w, function)
    value = env.array(bound)
    if not isinstance(value, Channelled) or bound.consumer is None:
        where = f"{bound.consumer.op} input {bound.index}" if bound.consumer is not None else "its place"
        raise EvalError(
            f"{function}(): '{bound.name}' is not the weights of a convolution or MatMul "
            f"(it is {where} in the pattern)"
        )
    return value, bound.consumer


@register("channels", 1, raw=True)
def _channels(env: Env, w: Any) -> int:
    """channels(w): the number of output channels of the weights (or per-channel vector) w."""
    return _weights(env, w, "channels")[0].channels


@register("per_output_channel", 2, raw=True)
def _per_output_channel(env: Env, s: Any, w: Any) -> bool:
    """per_output_channel(s, w): s multiplies each output channel of the op reading w by one value
    (a scalar, [C], or a broadcastable shape such as [1,1,1,C] or NCHW's [C,1,1])."""
    weights, consumer = _weights(env, w, "per_output_channel")
    layout = channels.output_layout(consumer)
    if layout is None:
        return False
    return channels.fits_channels(known_shape(env, s, "per_output_channel"), layout, weights.channels)


@register("channel_axis", 1, raw=True)
def _channel_axis(env: Env, n: Any) -> int:
    """channel_axis(n): the channel axis of n's output: -1 when last (NHWC), else its index."""
    node = node_arg(n, "channel_axis")
    layout = channels.output_layout(node)
    if layout is None:
        raise EvalError(f"channel_axis(): {node.op} '{node.name}' has no known channel axis")
    return layout[1]


@register("channel_shaped", 2, raw=True)
def _channel_shaped(env: Env, v: Any, n: Any) -> np.ndarray:
    """channel_shaped(v, n): the vector v shaped to broadcast along n's channel axis ([C,1,1] for NCHW)."""
    node = node_arg(n, "channel_shaped")
    vector = np.reshape(plain(env.numeric(v)), [-1])
    layout = channels.output_layout(node)
    if layout is None:
        raise EvalError(f"channel_shaped(): {node.op} '{node.name}' has no known channel axis")
    rank, axis = layout
    if axis == -1:
        return vector
    if rank is None:
        raise EvalError(f"channel_shaped(): the rank of {node.op} '{node.name}' is not known")
    return np.reshape(vector, [-1] + [1] * (rank - axis - 1))


@register("dilate", 2)
def _dilate(env: Env, w: Any, rates: Any) -> np.ndarray:
    """dilate(w, [rh, rw]): a [h, w, ...] filter with rh-1 / rw-1 zero rows / columns between taps."""
    w = np.asarray(plain(w))
    rh, rw = (int(r) for r in np.asarray(plain(rates)).reshape(-1)[:2])
    if w.ndim < 2 or rh < 1 or rw < 1:
        raise EvalError(f"cannot dilate a filter of shape {shape_text(w)} by [{rh}, {rw}]")
    out = np.zeros(((w.shape[0] - 1) * rh + 1, (w.shape[1] - 1) * rw + 1, *w.shape[2:]), w.dtype)
    out[::rh, ::rw] = w
    return out




@register("channel_vector", 2, raw=True)
def _channel_vector(env: Env, v: Any, w: Any) -> np.ndarray:
    """channel_vector(v, w): v as one value per output channel of the op reading w (a scalar is repeated)."""
    weights, _ = _weights(env, w, "channel_vector")
    array = np.asarray(plain(env.numeric(v)))
    if array.size == 1:
        return np.full(weights.channels, array.reshape(()), array.dtype)
    if array.size != weights.channels:
        raise EvalError(
            f"channel_vector(): a value of shape {shape_text(array)} does not fit the "
            f"{weights.channels} output channels of '{weights.name}'"
        )
    return array.reshape(-1)


@register("bias_format", 1, raw=True)
def _bias_format(env: Env, n: Any) -> str:
    """bias_format(n): the BiasAdd data_format that adds along n's channels ("NHWC" or "NCHW")."""
    node = node_arg(n, "bias_format")
    layout = channels.output_layout(node)
    if layout is not None and layout[1] == -1:
        return "NHWC"
    if layout is not None and layout == (4, 1):
        return "NCHW"
    raise EvalError(f"bias_format(): no BiasAdd data_format adds along the channels of {node.op} '{node.name}'")


@register("atrous_padding", 4)
def _atrous_padding(env: Env, w: Any, rates: Any, paddings: Any, crops: Any) -> str:
    """atrous_padding(w, rates, paddings, crops): "SAME" or "VALID", the padding of the dilated
    convolution a SpaceToBatchND -> conv(w) -> BatchToSpaceND chain computes (TF's
    with_space_to_batch), or an error when the paddings are neither."""
    kernel = np.asarray(np.shape(plain(w))[:2])
    rates_ = np.asarray(plain(rates)).reshape(-1)
    pads = np.asarray(plain(paddings)).reshape(-1, 2)
    crops_ = np.asarray(plain(crops)).reshape(-1, 2)
    if rates_.size != 2 or pads.shape != (2, 2) or crops_.shape != (2, 2):
        raise EvalError("atrous_padding(): expected 2 rates and [2, 2] paddings and crops")
    extra = pads[:, 1] - crops_[:, 1]  # the padding that is not cropped away again
    if np.any(crops_[:, 0] != 0):
        raise EvalError(f"atrous_padding(): crops {crops_.tolist()} crop the start of the output")
    total = (kernel - 1) * rates_
    if np.all(pads[:, 0] == total // 2) and np.all(extra == total - total // 2):
        return "SAME"
    if np.all(pads[:, 0] == 0) and np.all(extra == 0):
        return "VALID"
    raise EvalError(f"atrous_padding(): paddings {pads.tolist()} and crops {crops_.tolist()} are neither SAME nor VALID")
