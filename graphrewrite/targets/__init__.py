"""Deployment targets: what each runtime accepts (check), preparing a graph for it, comparing runtimes."""
