"""The OpenAPI document as the contract, and the pages that show it without a CDN.

FastAPI builds the operations from the routes; this adds what routes cannot say: the
bearer scheme (on every operation that can answer 401), the submission bodies typed from
the XSD, and the FHIR resources by name with a link to the R4 specification. /docs and
/redoc load Swagger UI and ReDoc from the fastapi-offline package's files, served here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import fastapi_offline
import orjson
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from gateway.kit.http import errors
from gateway.kit.submission_schema import XSD_NAME, submission_json_schema
from validators.schema import CLAIM_XSD, SCHEMA_DIR

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"
BEARER = "bearer"
FHIR_SPEC = "https://hl7.org/fhir/R4/"
FHIR_MEDIA = ("application/fhir+json", "application/fhir+xml")
FHIR_RESOURCES = (
    "Claim",
    "Bundle",
    "ClaimResponse",
    "ExplanationOfBenefit",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "OperationOutcome",
    "CapabilityStatement",
    "CommunicationRequest",
    "Communication",
    "ServiceRequest",
)
# The pages load only the gateway's own files: ReDoc's bundle would fetch its logo from a
# CDN, which the policy stops before it is asked for. Their bootstraps are inline scripts.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'"
)
_EXAMPLE = SCHEMA_DIR / "examples" / "valid" / "outpatient-visit"


SUBMISSION_BODY = {"$ref": "#/components/requestBodies/Submission"}


def fhir_ref(*names: str) -> dict[str, Any]:
    """A schema naming one or more FHIR R4 resources (components defined by ``install``)."""
    refs = [{"$ref": f"#/components/schemas/Fhir{name}"} for name in names]
    return refs[0] if len(refs) == 1 else {"oneOf": refs}


def fhir_content(
    *names: str, example: dict[str, Any] | None = None, xml_example: str | None = None
) -> dict[str, Any]:
    """A FHIR answer or body in both syntaxes (XML as text, it has no JSON Schema)."""
    json_media: dict[str, Any] = {"schema": fhir_ref(*names)}
    if example is not None:
        json_media["example"] = example
    xml: dict[str, Any] = {
        "schema": {"type": "string", "description": f"FHIR R4 XML: {' or '.join(names)}"}
    }
    if xml_example is not None:
        xml["example"] = xml_example
    return {FHIR_MEDIA[0]: json_media, FHIR_MEDIA[1]: xml}


def _fhir_components() -> dict[str, Any]:
    return {
        f"Fhir{name}": {
            "title": f"FHIR R4 {name}",
            "description": f"A FHIR R4 {name} resource; its full definition is the "
            "specification's, linked here.",
            "type": "object",
            "required": ["resourceType"],
            "properties": {"resourceType": {"const": name}, "id": {"type": "string"}},
            "additionalProperties": True,
            "externalDocs": {"url": f"{FHIR_SPEC}{name.lower()}.html"},
        }
        for name in FHIR_RESOURCES
    }


@cache
def _submission_examples() -> tuple[Any, str]:
    json_example = orjson.loads(_EXAMPLE.with_suffix(".json").read_bytes())
    return json_example, _EXAMPLE.with_suffix(".xml").read_text(encoding="utf-8")


def submission_body() -> dict[str, Any]:
    """The submission's request body: JSON typed from the XSD, XML named with it."""
    json_example, xml_example = _submission_examples()
    xml_schema = {
        "type": "string",
        "description": f"An XML document valid against {XSD_NAME} "
        "(namespace urn:rasa-gateway:claim:1)",
        "externalDocs": {"description": XSD_NAME, "url": f"/schemas/{XSD_NAME}"},
    }
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/SubmissionJson"},
                "example": json_example,
            },
            "application/xml": {"schema": xml_schema, "example": xml_example},
        },
    }


def _secure(document: dict[str, Any]) -> None:
    """Bearer on every operation that can answer 401; the scheme in the components."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A token issued with `gateway token create` (a centre's or staff's)",
    }
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if "401" in operation.get("responses", {}):
                operation["security"] = [{BEARER: []}]


_PLAIN = {"type", "title", "description"}


def _can_be_invalid(operation: dict[str, Any]) -> bool:
    """Whether FastAPI's own checks can refuse this operation's request (422): a body it
    validates, a required query or header, or a parameter with more than a plain string."""
    if "requestBody" in operation:
        return True
    for parameter in operation.get("parameters", []):
        if parameter.get("required") and parameter["in"] != "path":
            return True
        schema = parameter.get("schema", {})
        if schema.get("type") != "string" or set(schema) - _PLAIN:
            return True
    return False


def _own_validation_errors(document: dict[str, Any]) -> None:
    """FastAPI documents a 422 of its own shape on every operation with parameters; the
    gateway answers 422 in its one error shape, and only where a check can fail."""
    own = errors(422)[422]
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            answers = operation.get("responses", {})
            if answers.get("422", {}).get("description") != "Validation Error":
                continue
            if _can_be_invalid(operation):
                answers["422"] = {
                    "description": own["description"],
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ErrorResponse"},
                            **own["content"]["application/json"],
                        }
                    },
                }
            else:
                del answers["422"]
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def build_document(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["SubmissionJson"] = submission_json_schema()
    document["components"].setdefault("requestBodies", {})["Submission"] = submission_body()
    schemas.update(_fhir_components())
    _own_validation_errors(document)
    _secure(document)
    return document


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = PAGE_POLICY
    return page


def install(app: FastAPI) -> None:
    """The contract (``/openapi.json``), /docs and /redoc from packaged assets, the XSD."""
    app.openapi_schema = None

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    title = app.title

    # Declared as the app's own routes (FastAPI's built-in ones never set the route, so the
    # request middleware could only count them as unmatched).
    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(f"/schemas/{XSD_NAME}", include_in_schema=False)
    async def xsd() -> Response:
        return Response(CLAIM_XSD.read_bytes(), media_type="application/xml")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return _offline(
            get_swagger_ui_html(
                openapi_url="/openapi.json",
                title=f"{title}: API",
                swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
                oauth2_redirect_url="/docs/oauth2-redirect",
            )
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _offline(
            get_redoc_html(
                openapi_url="/openapi.json",
                title=f"{title}: API",
                redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )
