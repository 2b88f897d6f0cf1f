"""The pieces the OpenAPI document (`web/openapi.py`, `web/openapi_campaigns.py`) is written with.

Objects list every property and allow no others, so a test that validates the API's answers
against the document finds a field added to a handler and not to its schema.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], *, optional: tuple[str, ...] = (), description: str = "") -> Schema:
    """An object whose properties are all present (but `optional`), no others."""
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def maybe(kind: str, description: str = "") -> Schema:
    schema: Schema = {"type": [kind, "null"]}
    if description:
        schema["description"] = description
    return schema


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
STR: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": "number", "description": "Unix seconds."}
ISO: Schema = {"type": "string", "description": "ISO 8601 in UTC."}
MAYBE_TIME = maybe("number", "Unix seconds; null if it never happened.")
RAW_HUMAN = obj({"raw": INT, "human": INT}, description="raw: every request; human: those judged a person's.")
COUNTS = obj({"raw": INT, "human": INT, "machine": INT})

AUTH: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]


def param(name: str, schema: Schema, description: str, where: str = "query", required: bool = False) -> Schema:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema,
            "description": description}


def answer(description: str, schema: Schema | None = None, media: str = "application/json") -> Schema:
    found: Schema = {"description": description}
    if schema is not None:
        found["content"] = {media: {"schema": schema}}
    return found


ERRORS = {
    "400": answer("A parameter or body the API cannot use; the message names it.", ref("Error")),
    "401": answer("No valid API key (Authorization: Bearer KEY) or session.", ref("Error")),
    "403": answer("A session cookie without the session's x-csrf-token header.", ref("Error")),
    "404": answer("No such resource, or another user's: the same answer.", ref("Error")),
    "409": answer("In conflict with what is stored; the error says how (a disabled endpoint: re-enable it first; a suppressed recipient).", ref("Error")),
    "415": answer("A body sent as another Content-Type than application/json.", ref("Error")),
    "503": answer("The database cannot answer now; retry.", ref("Error")),
}


def operation(
    summary: str, ok: Schema, *, params: list[Schema] | None = None, errors: tuple[str, ...] = ("400", "401", "503"),
    body: Schema | None = None, status: str = "200", tag: str = "reports", description: str = "",
) -> Schema:
    op: Schema = {
        "summary": summary,
        "tags": [tag],
        "security": AUTH,
        "parameters": params or [],
        "responses": {status: ok, **{code: ERRORS[code] for code in errors}},
    }
    if description:
        op["description"] = description
    if body is not None:
        op["responses"]["415"] = ERRORS["415"]  # issue #12: JSON only as application/json
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op
