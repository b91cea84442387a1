"""One module per command of ``graphrewrite`` (see ``graphrewrite.cli`` for the table).

Each module has ``add_arguments(parser)`` and ``run(args) -> int``, and is imported only when
its command runs, so start-up and ``--help`` stay fast.
"""
