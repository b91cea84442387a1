"""graphrewrite's test suites (a package, so ``tests.helpers`` is importable from every suite)."""
