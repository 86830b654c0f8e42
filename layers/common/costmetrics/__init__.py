"""Cost & Metrics API domain package, shipped to every function as the `costmetrics` Lambda layer.

handler (functions/*/app.py) -> logic (this package's domain modules) -> data access
(costmetrics.repositories, one module per table) -> models (pydantic).
"""
