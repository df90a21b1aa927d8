"""JSON Schema of the tenant file, generated from the model so editors and the loader never disagree."""

from __future__ import annotations

from typing import Any

from .tenant import Tenant


def tenant_json_schema() -> dict[str, Any]:
    schema: dict[str, Any] = Tenant.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "govcloud tenant (apiVersion govcloud/v1)"
    return schema
