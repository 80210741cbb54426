"""The OpenAPI 3.1 document for every endpoint, derived from schemas.FIELDS."""

from __future__ import annotations

from typing import Any

from server.schemas import CHARACTER_DESCRIPTION_MAX, CHARACTER_NAME_MAX, FIELDS, Field, field_choices

_ERROR = {"$ref": "#/components/schemas/Error"}


def _field_schema(f: Field) -> dict[str, Any]:
    schema: dict[str, Any]
    if f.kind == "string":
        schema = {"type": "string", "minLength": int(f.minimum or 0), "maxLength": int(f.maximum or 0)}
    elif f.kind == "enum":
        schema = {"type": "string", "examples": sorted(field_choices(f))}
        if not f.lenient:
            schema["enum"] = sorted(field_choices(f))
    elif f.kind in ("number", "integer"):
        schema = {"type": f.kind, "minimum": f.minimum, "maximum": f.maximum}
    elif f.kind == "boolean":
        schema = {"type": "boolean"}
    elif f.kind == "array":
        schema = {
            "type": "array",
            "maxItems": f.max_items,
            "items": {"type": "string", "minLength": 1, "maxLength": f.max_length},
        }
    else:
        schema = {
            "type": "array",
            "maxItems": f.max_items,
            "items": {"$ref": "#/components/schemas/Character"},
        }
    if f.nullable:
        schema["type"] = [schema["type"], "null"]
    if f.default is not None:
        schema["default"] = list(f.default) if isinstance(f.default, tuple) else f.default
    schema["description"] = f.description
    return schema


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _json(_ERROR, "Error, naming the field and what is allowed") for c in codes}


def openapi_document() -> dict[str, Any]:
    job_id = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
    progress_schema = {"$ref": "#/components/schemas/Progress"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "StoryReel backend",
            "version": "0.1.0",
            "description": "Offline topic-to-narrated-video backend. Jobs run one at a time on the GPU lane.",
        },
        "paths": {
            "/health": {
                "get": {
                    "summary": "Liveness, and which backend serves each stage",
                    "responses": {"200": _json({"type": "object"}, "OK")},
                }
            },
            "/api/generate-video": {
                "post": {
                    "summary": "Queue a video; returns at once",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/VideoRequest"}}
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "status": {"const": "generating"},
                                    "job_id": {"type": "string"},
                                },
                            },
                            "Queued",
                        ),
                        **_errors(400, 403, 408, 413, 415),
                    },
                }
            },
            "/api/progress": {
                "get": {
                    "summary": "Progress of a job (the most recent one without job_id)",
                    "parameters": [
                        {
                            "name": "job_id",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"},
                        }
                    ],
                    "responses": {"200": _json(progress_schema, "Progress"), **_errors(400, 404)},
                }
            },
            "/api/video/{name}": {
                "get": {
                    "summary": "The finished MP4 (Range requests supported; HEAD too)",
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+\.mp4$"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "video/mp4"},
                        "206": {"description": "Partial content"},
                        **_errors(403, 404, 416),
                    },
                }
            },
            "/api/jobs": {
                "get": {
                    "summary": "Recent jobs, newest first",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                        }
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}
                                },
                            },
                            "Jobs",
                        )
                    },
                }
            },
            "/api/jobs/{job_id}": {
                "get": {
                    "summary": "One job: status, stage, progress, details, error, video, spec, timings",
                    "parameters": [job_id],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Job"}, "Job"),
                        **_errors(400, 404),
                    },
                },
                "delete": {
                    "summary": "Remove a finished or cancelled job's work folder (and its video with "
                    "?video=true); the job's record stays. 409 while it is queued or running",
                    "parameters": [
                        job_id,
                        {"name": "video", "in": "query", "schema": {"type": "boolean", "default": False}},
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "job_id": {"type": "string"},
                                    "deleted": {
                                        "type": "object",
                                        "properties": {
                                            "work_folder": {"type": "boolean"},
                                            "video": {"type": ["string", "null"]},
                                        },
                                    },
                                    "freed_bytes": {"type": "integer"},
                                },
                            },
                            "Deleted",
                        ),
                        **_errors(400, 403, 404, 409),
                    },
                },
            },
            "/api/jobs/{job_id}/cancel": {
                "post": {
                    "summary": "Cancel a queued or running job (takes effect within 2 s)",
                    "parameters": [job_id],
                    "responses": {
                        "202": _json({"$ref": "#/components/schemas/Job"}, "Cancel requested"),
                        "409": _json({"$ref": "#/components/schemas/Job"}, "Already finished"),
                        **_errors(400, 403, 404, 408, 413, 415),
                    },
                }
            },
            "/api/options": {
                "get": {
                    "summary": "Every allowed value of each choice field, with a description",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "additionalProperties": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "value": {"type": "string"},
                                            "description": {"type": "string"},
                                        },
                                    },
                                },
                            },
                            "Options",
                        )
                    },
                }
            },
            "/api/voices": {
                "get": {
                    "summary": "The voice catalog, with whether each voice's model is installed",
                    "responses": {"200": _json({"type": "object"}, "Voices")},
                }
            },
            "/api/models": {
                "get": {
                    "summary": "Installed models, what each stage uses, what is missing and its fix",
                    "responses": {"200": _json({"type": "object"}, "Models")},
                }
            },
            "/api/upload": {
                "post": {
                    "summary": "Store an image for manual_image_paths",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"file": {"type": "string", "format": "binary"}},
                                    "required": ["file"],
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _json(
                            {
                                "type": "object",
                                "properties": {"path": {"type": "string"}, "filename": {"type": "string"}},
                            },
                            "Stored",
                        ),
                        **_errors(400, 403, 408, 413, 415, 429),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI")},
                }
            },
        },
        "components": {
            "schemas": {
                "VideoRequest": {
                    "type": "object",
                    "required": ["topic"],
                    "properties": {f.name: _field_schema(f) for f in FIELDS},
                },
                "Character": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": CHARACTER_NAME_MAX},
                        "description": {"type": "string", "maxLength": CHARACTER_DESCRIPTION_MAX},
                    },
                },
                "Progress": {
                    "type": "object",
                    "required": ["status", "progress"],
                    "properties": {
                        "status": {"enum": ["idle", "generating", "complete", "error"]},
                        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
                        "substatus": {"type": "string"},
                        "details": {"type": "string"},
                        "video_path": {"type": "string"},
                        "error": {"type": "string"},
                        "job_id": {"type": "string"},
                        "state": {"enum": ["queued", "running", "complete", "error", "cancelled"]},
                        "stage": {"type": "string"},
                    },
                },
                "Job": {
                    "type": "object",
                    "properties": {
                        "job_id": {"type": "string"},
                        "status": {"type": "string"},
                        "state": {"type": "string"},
                        "stage": {"type": "string"},
                        "progress": {"type": "integer"},
                        "substatus": {"type": "string"},
                        "details": {"type": "array", "items": {"type": "string"}},
                        "error": {"type": ["string", "null"]},
                        "video": {"type": ["string", "null"]},
                        "spec": {"type": "object"},
                        "timings": {"type": "object", "additionalProperties": {"type": "number"}},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "status"],
                    "properties": {
                        "error": {"type": "string"},
                        "status": {"type": "integer"},
                        "field": {"type": "string"},
                        "allowed": {},
                    },
                },
            }
        },
    }
