"""The storyboard routes' bodies as pydantic models (the house style: server/schemas.py for what a
client sends, server/http_responses.py for what the server answers); /api/openapi.json describes
them (server/openapi.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt

from server.http_input import Line, Text
from server.http_responses import ResponseBody
from server.schemas import MAX_SEED, Character, RequestBody, VideoRequest

NARRATION = Field(min_length=1, max_length=2000, description="What the narrator says in this scene.")
What = Literal["image", "narration", "both"]
#: A cast member's portrait name (engine.images.cast.slug): GET .../cast/{slug}.png
SLUG_PATTERN = r"^[a-z0-9-]{1,40}-[0-9a-f]{6}$"


# -- requests ---------------------------------------------------------------------------------------
class StoryboardRequest(VideoRequest):
    """POST /api/storyboards: the generate-video body (validated the same way, ``script`` too),
    plus ``images``."""

    images: StrictBool = Field(
        default=True, description="Paint a picture for every scene; false stops after the script."
    )


class SceneRef(RequestBody):
    """An existing scene, kept, at this place in the new order."""

    n: StrictInt = Field(ge=1, le=60, description="The scene's number now (from 1).")


class NewScene(RequestBody):
    """A scene inserted at this place."""

    narration: Text = NARRATION
    image_prompt: Text = Field(
        default="", max_length=600,
        description="What its picture shows (derived from the narration when empty).",
    )


class StoryboardEdit(RequestBody):
    """PATCH /api/storyboards/{id}: any of title, characters, scenes (the new list: existing scenes
    by number in their new order, new ones as {narration, image_prompt?}; a scene left out is
    deleted). 409 while the storyboard drafts or a scene is regenerated."""

    title: Line | None = Field(default=None, min_length=1, max_length=200, description="The video's title.")
    characters: list[Character] | None = Field(
        default=None, max_length=10,
        description="The characters, as in POST (their looks go into every picture; image: their "
                    "portrait, made at once; a character sent without image gets a generated one). "
                    "The scenes that show a character whose portrait changes are repainted by the render.",
    )
    scenes: Annotated[list[SceneRef | NewScene], Field(min_length=1, max_length=60)] | None = Field(
        default=None,
        description="The scenes, in order: {n} to keep scene n, {narration, image_prompt?} to add one.",
    )


class SceneEdit(RequestBody):
    """PATCH /api/storyboards/{id}/scenes/{n}: any of these. A new prompt or seed asks for a
    painted picture (the render paints it, or regenerate now); ``image`` sets the creator's own.
    409 while that scene is regenerated."""

    narration: Text | None = Field(default=None, min_length=1, max_length=2000,
                                   description="What the narrator says in this scene.")
    image_prompt: Text | None = Field(default=None, max_length=600, description="What the picture shows.")
    seed: StrictInt | None = Field(default=None, ge=0, le=MAX_SEED, description="The picture's seed.")
    image: Line | None = Field(
        default=None, min_length=1, max_length=1024,
        description="Your own picture: an upload's file name (POST /api/upload) or an allowed local path.",
    )


class Regenerate(RequestBody):
    """POST /api/storyboards/{id}/scenes/{n}/regenerate: make this scene's picture, narration or
    both again (a new seed unless one is given); only that scene changes."""

    what: What = Field(description="image: a new picture; narration: the script backend rewrites the "
                                   "scene in the story's context, within its word budget; both.")
    prompt: Text | None = Field(
        default=None, min_length=1, max_length=600,
        description="image and both: a new image prompt for the picture. narration: a hint to the script "
                    "writer for the rewrite (e.g. 'make it darker'); the draft writer cannot follow one and "
                    "says so in the details.")
    seed: StrictInt | None = Field(
        default=None, ge=0, le=MAX_SEED,
        description="image and both: the picture's seed (both: the rewrite follows it too). narration: picks "
                    "the rewrite's variant; the same seed and hint from the same scenes give the same text. "
                    "Random when left out.")


# -- answers ----------------------------------------------------------------------------------------
class StoryboardCreated(ResponseBody):
    """The answer to POST /api/storyboards: drafting has started; poll the storyboard."""

    storyboard_id: str
    status: Literal["drafting"]
    url: str = Field(description="GET it here.")


class CharacterView(ResponseBody):
    """A character of the storyboard's cast (the request's, then those the script names) and its
    reference portrait."""

    name: str
    description: str
    image: str | None = Field(description="Your own portrait as the storyboard has it (an upload's file "
                                          "name or a local path): send it back in PATCH characters to "
                                          "keep it; without it a portrait is generated.")
    slug: str = Field(description="The portrait's file name (without .png).")
    portrait_source: Literal["own", "sdxl", "draft"] | None = Field(
        description="own: made from your image; sdxl or draft: generated from the name and description. "
                    "null until a picture or a render makes it.")
    portrait_url: str | None = Field(description="The portrait (PNG), once there is one.")
    scenes: list[int] = Field(
        description="The scenes that show this character (a new portrait repaints them).")


class SceneView(ResponseBody):
    """One scene of a storyboard."""

    index: int = Field(description="Its number, from 1 (as in .../scenes/{n}).")
    id: str = Field(description="A stable id (kept when scenes move).")
    narration: str = Field(description="What the narrator says (normalised as the render reads it).")
    image_prompt: str
    characters: list[str] = Field(description="The characters its picture shows.")
    seed: int | None = Field(description="The seed its picture is painted with.")
    words: int
    estimated_seconds: float = Field(description="How long the voice will take to say it.")
    regenerating: What | None = Field(description="What is being made again for it, if anything.")
    image_url: str | None = Field(description="Its picture (PNG), once there is one.")
    thumbnail_url: str | None = Field(description="A small JPEG of it.")
    image_source: str | None = Field(description="sdxl, draft, manual or stock.")
    image_seed: int | None = Field(description="The seed the picture was made with.")
    image_stale: bool = Field(description="The prompt or seed changed since, or a portrait it shows was "
                                          "replaced: the render paints it again.")


class Regenerating(ResponseBody):
    scene: int
    what: str


class RenderLink(ResponseBody):
    job_id: str
    progress_url: str


class StoryboardSummary(ResponseBody):
    """A storyboard in the list."""

    storyboard_id: str
    state: Literal["drafting", "ready", "error"]
    progress: int = Field(ge=0, le=100, description="Of the drafting, or of the regenerate in progress.")
    substatus: str
    error: str | None
    title: str
    scene_count: int
    regenerating: list[Regenerating]
    renders: list[RenderLink] = Field(description="The jobs rendered from it, oldest first.")
    created_at: float
    updated_at: float
    url: str
    thumbnail_url: str | None = Field(default=None, description="The first scene's thumbnail.")


class StoryboardView(StoryboardSummary):
    """GET /api/storyboards/{id}: the storyboard with its scenes."""

    characters: list[CharacterView]
    scenes: list[SceneView]
    details: list[str] = Field(description="What was done, and what failed, most recent last.")
    estimated_seconds: float
    images: bool = Field(description="Whether pictures are painted when drafting.")
    spec: dict[str, Any] = Field(description="The request as the engine has it (scenes in script).")
    render_url: str


class StoryboardList(ResponseBody):
    """GET /api/storyboards: newest first."""

    storyboards: list[StoryboardSummary]


class RenderQueued(ResponseBody):
    """The answer to POST /api/storyboards/{id}/render: a normal job; poll /api/progress."""

    status: Literal["generating"]
    job_id: str
    storyboard_id: str


class StoryboardDeleted(ResponseBody):
    """The answer to DELETE /api/storyboards/{id}: its folder is gone; jobs and videos rendered
    from it stay."""

    storyboard_id: str
    deleted: bool
    renders: list[str]
