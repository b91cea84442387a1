"""The pieces behind ``graphrewrite.freeze``, split by source kind.

``saved_model`` (TF2 SavedModels and concrete functions), ``keras`` (Keras 3 models and
files), ``tf1`` (GraphDef or MetaGraphDef plus a checkpoint), ``variables`` (variable ops to
constants, resource chains retyped), ``functions`` (call inlining), ``cleanup`` (what every
frozen graph goes through last) and ``frozen`` (the result value).
"""
