"""Image style presets: the words appended to every scene prompt and the negative prompt, one per
key of engine.presets.IMAGE_STYLES. Unknown names map to the nearest preset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Mapping

from engine.presets import IMAGE_STYLES, nearest

DEFAULT_STYLE: Final = "cinematic"

#: Shared by every negative prompt: what no style wants.
_COMMON_NEGATIVE: Final = (
    "lowres, blurry, jpeg artifacts, watermark, signature, text, logo, extra fingers, "
    "deformed hands, disfigured face, bad anatomy, cropped, out of frame"
)


@dataclass(frozen=True)
class StylePreset:
    name: str
    #: Appended to the scene prompt (after its characters).
    suffix: str
    #: Style-specific words for the negative prompt; ``negative`` adds the shared ones.
    avoid: str

    @property
    def negative(self) -> str:
        return f"{self.avoid}, {_COMMON_NEGATIVE}" if self.avoid else _COMMON_NEGATIVE


STYLES: Final[Mapping[str, StylePreset]] = {
    "cinematic": StylePreset(
        "cinematic",
        "cinematic film still, dramatic lighting, shallow depth of field, anamorphic lens, color graded, "
        "35mm",
        "cartoon, anime, flat lighting, overexposed, amateur snapshot",
    ),
    "photorealistic": StylePreset(
        "photorealistic",
        "photorealistic photograph, natural light, sharp focus, highly detailed, realistic skin texture, "
        "50mm",
        "painting, illustration, cartoon, anime, 3d render, cgi, plastic skin",
    ),
    "anime": StylePreset(
        "anime",
        "anime key visual, clean line art, cel shading, vivid colors, detailed background, studio anime",
        "photorealistic, photo, 3d render, realistic skin, western cartoon, muddy colors",
    ),
    "comic": StylePreset(
        "comic",
        "comic book panel, bold ink outlines, halftone shading, flat vivid colors, dynamic composition",
        "photorealistic, photo, soft blur, 3d render, watercolor",
    ),
    "oil_painting": StylePreset(
        "oil_painting",
        "classical oil painting on canvas, visible brush strokes, rich pigments, chiaroscuro, fine art",
        "photo, photorealistic, digital art, 3d render, anime, flat colors",
    ),
    "watercolor": StylePreset(
        "watercolor",
        "soft watercolor painting, bleeding washes, textured paper, delicate pastel tones, loose brushwork",
        "photo, photorealistic, 3d render, hard edges, heavy outlines, oversaturated",
    ),
    "dark_fantasy": StylePreset(
        "dark_fantasy",
        "dark fantasy illustration, grim atmosphere, deep shadows, muted palette, volumetric fog, "
        "epic detail",
        "bright cheerful colors, cartoon, cute, flat lighting, pastel",
    ),
    "noir": StylePreset(
        "noir",
        "black and white film noir, high contrast, hard shadows, venetian blind light, rain, 1940s",
        "color, colorful, saturated, bright daylight, cartoon, anime",
    ),
    "pixel_art": StylePreset(
        "pixel_art",
        "retro pixel art, 16-bit, limited palette, crisp pixels, sprite art, no anti-aliasing",
        "photorealistic, photo, blurry, smooth gradients, 3d render, painting",
    ),
    "3d_render": StylePreset(
        "3d_render",
        "stylized 3d render, soft global illumination, clean materials, octane render, subsurface scattering",
        "photo, 2d, flat illustration, sketch, painting, grainy",
    ),
}


def style_for(name: str) -> StylePreset:
    """The preset for ``name``; unknown names map to the nearest preset (default cinematic)."""
    return STYLES[nearest(name, IMAGE_STYLES, DEFAULT_STYLE)]
