"""Serve frozen graphs over HTTP: TF Serving's REST API (v1) and the Open Inference Protocol (v2).

Layer 5: :mod:`models` loads and freezes what to serve, :mod:`session` runs it, :mod:`batching`
groups concurrent requests, :mod:`json_tensor` speaks TF Serving's JSON, :mod:`rest_v1` and
:mod:`oip_v2` are the routes, :mod:`app` assembles the ASGI app and runs it under uvicorn.
The HTTP stack (starlette, uvicorn) is the ``serve`` extra, imported only by :mod:`app`.
"""
