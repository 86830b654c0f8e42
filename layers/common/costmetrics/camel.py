"""The base of the camelCase models: the cost-analysis and activity groups' responses, and a price as a
client writes it (costmetrics.price_admin)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    """Response models of the cost-analysis and activity groups: snake_case in Python, camelCase in JSON."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
