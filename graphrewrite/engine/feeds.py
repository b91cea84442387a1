"""Feed points: a node named in ``--inputs`` is fed, whatever its op, and no step sees through it.

Feeding a tensor replaces its value with one from outside: to everything downstream, a fed
node is a Placeholder. The driver makes that literal for the length of every step. It swaps each
fed node that is not already a Placeholder (a Const, a ``PlaceholderWithDefault``, an interior
``Mul``) for a Placeholder of the same name and dtype, a *stand-in*, runs the step, and puts the
original back. To every rule, standard or user, declarative or Python, a fed node is then an
input and nothing else: no rule can merge it with another node, fold through it, read its
current value, or match its op; and, being protected, it is never removed.

The nodes the original reads are kept as extra outputs of the step, so that it can be put back
with its inputs intact (the graph above a feed still computes the fed value when nobody feeds
it). A fed node with several outputs, or whose dtype the OpDef does not tell, has no stand-in;
it is only protected.

Steps declare how they treat feeds (the ``feeds`` attribute of a transform):

- ``opaque`` (the default): as above;
- ``visible``: the step changes no node's value (devices, attributes, names, order), so it sees
  fed nodes as they are;
- ``cut``: the step turns the feeds into Placeholders itself (``strip_unused_nodes``), so its
  result keeps them as it made them.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from graphrewrite.engine.graph import CONTROL, Graph
from graphrewrite.engine.node import Node, TensorRef, node_name
from graphrewrite.engine.opdefs import FEED_ONLY_OPS, output_count, output_dtypes

OPAQUE, VISIBLE, CUT = "opaque", "visible", "cut"
FEED_MODES = (OPAQUE, VISIBLE, CUT)


@attrs.frozen
class FeedCut:
    """The fed nodes swapped for stand-ins for one step, and what they read."""

    originals: tuple[Node, ...] = ()
    stand_ins: tuple[Node, ...] = ()

    @property
    def keep(self) -> tuple[str, ...]:
        """Tensors the originals read, as output names: the step must keep them."""
        refs = (ref for node in self.originals for ref in node.inputs)
        return tuple(dict.fromkeys(f"^{r.node}" if r.port == CONTROL else str(r) for r in refs))


NO_CUT = FeedCut()


def cut_feeds(graph: Graph, inputs: Iterable[str]) -> tuple[Graph, FeedCut]:
    """*graph* with every fed node that is not a Placeholder swapped for its stand-in."""
    originals, stand_ins = [], []
    for name in dict.fromkeys(node_name(i) for i in inputs if i):
        node = graph.get(name)
        if node is None or node.op in FEED_ONLY_OPS:
            continue
        stand_in = _stand_in(node)
        if stand_in is not None:
            originals.append(node)
            stand_ins.append(stand_in)
    if not originals:
        return graph, NO_CUT
    return graph.replace(stand_ins), FeedCut(tuple(originals), tuple(stand_ins))


def restore_feeds(graph: Graph, cut: FeedCut) -> Graph:
    """Put the originals back where the step left their stand-ins as they were.

    Control inputs the step gave a stand-in stay on the original. A stand-in the step replaced
    on purpose (``freeze_placeholder`` named it) keeps the step's node.
    """
    back = []
    for original, stand_in in zip(cut.originals, cut.stand_ins, strict=True):
        current = graph.get(original.name)
        if current is None or not _same_stand_in(current, stand_in):
            continue
        if current.data_inputs or not all(_readable(graph, ref) for ref in original.inputs):
            continue  # the step changed what the original read: the feed stays a Placeholder
        extra = [ref for ref in current.control_inputs if ref not in original.inputs]
        back.append(original.with_inputs((*original.inputs, *extra)) if extra else original)
    return graph.replace(back) if back else graph


def _readable(graph: Graph, ref: TensorRef) -> bool:
    """Whether *ref* still names an output of a node of *graph*."""
    producer = graph.get(ref.node)
    if producer is None:
        return False
    count = output_count(producer)
    return ref.port == CONTROL or count is None or ref.port < count


def _same_stand_in(current: Node, stand_in: Node) -> bool:
    return current is stand_in or (current.op == stand_in.op and dict(current.attr) == dict(stand_in.attr))


def _stand_in(node: Node) -> Node | None:
    """The Placeholder that stands for fed *node*, or None when it cannot (see module doc).

    Its shape stays unknown (a stand-in accepts whatever the user feeds); ``_output_shapes`` is
    kept for the rules that read it.
    """
    if node.op == "Const":
        dtype = node.get("dtype")
    else:
        dtypes = output_dtypes(node)
        dtype = dtypes[0] if dtypes is not None and len(dtypes) == 1 else None
    if dtype is None:
        return None
    attrs_ = {"dtype": dtype}
    if node.get("_output_shapes"):
        attrs_["_output_shapes"] = node.attr["_output_shapes"]
    return Node.make(node.name, "Placeholder", (), attrs_, node.device)


__all__ = ["CUT", "FEED_MODES", "NO_CUT", "OPAQUE", "VISIBLE", "FeedCut", "cut_feeds", "restore_feeds"]
