"""What the server answers, as pydantic models: /api/openapi.json describes each one, and a
handler answers ``web.json_response(Model(...).to_json())``. The request side, and how to add a
body, are in server/schemas.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from server.export_routes import export_urls
from server.jobs import Job, JobState


class ResponseBody(BaseModel):
    """What the server answers: every field described here, nothing else (extra fields refused)."""

    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> dict[str, Any]:
        """The body: the fields the handler set (unset optional ones are absent, not null)."""
        return self.model_dump(mode="json", exclude_unset=True)


class ErrorBody(ResponseBody):
    """Every 4xx/5xx answer. ``field`` names what was wrong (a request field such as
    ``characters[0].name``, ``body``, a header or a query parameter) and ``allowed`` what it takes."""

    error: str = Field(description="What went wrong, in words a creator can act on; starts with the field.")
    status: int = Field(description="The HTTP status, repeated.")
    field: str | None = Field(default=None, description="The field, header or parameter that was wrong.")
    allowed: list[str] | dict[str, int | float | None] | None = Field(
        default=None, description="What the field takes: its values, or its {min, max}."
    )


class Queued(ResponseBody):
    """The answer to POST /api/generate-video: the job is queued; poll /api/progress."""

    status: Literal["generating"]
    job_id: str


class JobStatus(ResponseBody):
    """Where a job stands, as /api/progress and /api/jobs show it."""

    status: Literal["idle", "generating", "complete", "error"] = Field(
        description="The frontend's four states; queued and cancelled are told apart in ``state``."
    )
    progress: int = Field(ge=0, le=100, description="Percent done.")
    job_id: str | None = Field(default=None)
    state: JobState | None = Field(default=None, description="The job's own state.")
    stage: str | None = Field(default=None, description="script, images, narration or video (or empty).")
    substatus: str | None = Field(default=None, description="One line: what is happening now.")
    video_path: str | None = Field(default=None, description="When complete: its name under /api/video/.")
    video_url: str | None = Field(default=None, description="When complete: where to fetch it.")
    error: str | None = Field(default=None, description="When failed or cancelled: why, in words to act on.")

    @staticmethod
    def fields_of(job: Job, ahead: int) -> dict[str, Any]:
        """The status fields of ``job``, with ``ahead`` jobs queued before it."""
        fields: dict[str, Any] = {"status": job.state.public_status, "progress": int(job.progress),
                                  "job_id": job.id, "state": job.state, "stage": job.stage}
        if job.state is JobState.COMPLETE:
            fields.update(progress=100, video_path=job.video, video_url=f"/api/video/{job.video}",
                          substatus="Video ready for download")
        elif job.state.finished:
            fields.update(error=job.error or "The job failed", substatus=job.substatus)
        elif job.state is JobState.QUEUED:
            fields["substatus"] = f"Waiting for {ahead} job(s) ahead" if ahead else "Starting…"
        else:
            fields["substatus"] = job.substatus
        return fields


class Progress(JobStatus):
    """GET /api/progress: the frontend's shape (``{"status": "idle", "progress": 0}`` before a job)."""

    details: str | None = Field(default=None, description="The job's log so far, one line per event.")

    @classmethod
    def of(cls, job: Job, ahead: int) -> "Progress":
        return cls(**JobStatus.fields_of(job, ahead), details="\n".join(job.details))


class JobView(JobStatus):
    """GET /api/jobs/{job_id}: the job's status and its record."""

    details: list[str] = Field(description="The job's log so far.")
    video: str | None = Field(description="The finished video's file name.")
    spec: dict[str, Any] = Field(description="The validated request as the engine received it.")
    timings: dict[str, float] = Field(description="Seconds spent in each stage.")
    exports: dict[str, str] = Field(description="When complete: each export's name -> its URL.")
    attempts: int = Field(description="How many times a lane has started the job.")
    cancel_requested: bool
    created_at: float = Field(description="Unix time.")
    started_at: float | None
    finished_at: float | None
    updated_at: float
    cancel: Literal["requested", "already finished"] | None = Field(
        default=None, description="The answer to a cancel request."
    )

    @classmethod
    def of(cls, job: Job, ahead: int, **extra: Any) -> "JobView":
        return cls(
            **{**JobStatus.fields_of(job, ahead), "video": job.video, "error": job.error},
            details=list(job.details),
            spec=job.spec.to_dict(),
            timings=dict(job.timings),
            exports=export_urls(job),
            attempts=job.attempts,
            cancel_requested=job.cancel_requested,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            updated_at=job.updated_at,
            **extra,
        )


class JobList(ResponseBody):
    """GET /api/jobs: recent jobs, newest first."""

    jobs: list[JobView]


class DeletedFiles(ResponseBody):
    work_folder: bool = Field(description="True when a work folder was there and is gone now.")
    video: str | None = Field(description="The video file removed, if one was asked for and there.")


class Deleted(ResponseBody):
    """DELETE /api/jobs/{job_id}: what was removed (the job's record stays)."""

    job_id: str
    deleted: DeletedFiles
    freed_bytes: int


class OptionValue(ResponseBody):
    value: str
    description: str
    #: A language (the ``language`` field) only: what speaks it on this machine and what to install.
    served: bool | None = Field(default=None, description="A language: an installed voice speaks it.")
    voices: list[str] | None = Field(default=None, description="A language: the installed voices for it.")
    backends: list[str] | None = Field(default=None, description="A language: the installed engines for it.")
    install: list[str] | None = Field(default=None,
                                      description="A language: commands that add voices for it.")
    notes: list[str] | None = Field(default=None, description="A language: licences, script model.")


class Options(RootModel[dict[str, list[OptionValue]]]):
    """GET /api/options: each choice field of the video request -> its values, each with a line."""


class VoiceInfo(ResponseBody):
    """One catalog voice, and whether its model is installed (else what speaks instead, and the fix)."""

    #: The engine builds these rows (narration.voices.list_voices): a key it adds passes through
    #: until it is described here.
    model_config = ConfigDict(extra="allow")

    id: str
    description: str
    gender: Literal["male", "female", "neutral"]
    backend: str = Field(description="coqui-vits or coqui-xtts.")
    model: str
    speaker: str
    installed: bool
    licence: str
    speaks_with: str = Field(description="What speaks in this voice on this machine now.")
    fix: str | None = Field(default=None, description="The command that installs the voice's model.")


class Voices(ResponseBody):
    """GET /api/voices."""

    voices: list[VoiceInfo]


class StageInfo(ResponseBody):
    """The backend that serves one stage."""

    stage: str
    backend: str = Field(description="The backend's own name and model.")
    real_weights: bool = Field(description="False: the embedded default runs (draft quality).")
    weights: str | None = Field(description="Where its weights are.")
    fix: str | None = Field(description="What to run to get the real model, when it is missing.")


class ModelsReport(ResponseBody):
    """GET /api/models: installed models, what each stage uses, what is missing and its fix."""

    installed: list[dict[str, Any]] = Field(description="Each model found under models/.")
    missing: list[dict[str, Any]] = Field(description="One row per stage need: installed or not; the fix.")
    device: dict[str, Any] = Field(description="The GPU (or CPU) the models run on.")
    stages: dict[str, StageInfo]
    warnings: list[str]


class Health(ResponseBody):
    """GET /health: liveness, and which backend serves each stage."""

    status: Literal["ok"]
    backends: dict[str, StageInfo]
    draft_stages: list[str] = Field(description="Stages running their embedded default (no real weights).")
    memory: str = Field(description="Whether models stay loaded between jobs, and why.")
    warnings: list[str] = Field(description="The doctor's warnings, loudest first.")
    lanes: list[dict[str, Any]] = Field(description="Each GPU lane: its worker and the job it runs.")
    disk: dict[str, Any] | None = Field(description="Bytes used by data/ and videos/, and free.")


class Stored(ResponseBody):
    """POST /api/upload: where the image was stored; put ``path`` in manual_image_paths."""

    path: str
    filename: str
