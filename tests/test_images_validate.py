"""Path safety, uploads, and normalising odd images (alpha, 16-bit, CMYK, EXIF, tiny, huge, bombs)."""

from __future__ import annotations

import io
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.errors import BadInput
from engine.images.normalise import MAX_SIDE, fit_cover, normalise_image
from engine.images.validate import store_upload, store_upload_file, validate_image_path
from engine.tempnames import is_part_name


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny file whose PNG header claims width x height (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
    return path


def png_bytes(size: tuple[int, int] = (80, 60), colour: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    allowed = tmp_path / "allowed"
    outside = tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    return allowed, outside


def test_valid_image_under_root_resolves(roots: tuple[Path, Path]) -> None:
    allowed, _ = roots
    (allowed / "sub").mkdir()
    img = allowed / "sub" / "pic.png"
    img.write_bytes(png_bytes())
    assert validate_image_path(str(img), (allowed,)) == img.resolve()
    # a dotted path that stays inside is fine
    assert validate_image_path(str(allowed / "sub" / ".." / "sub" / "pic.png"), (allowed,)) == img.resolve()


def test_traversal_outside_root_is_refused(roots: tuple[Path, Path]) -> None:
    allowed, outside = roots
    (outside / "secret.png").write_bytes(png_bytes())
    sneaky = str(allowed / ".." / "outside" / "secret.png")
    with pytest.raises(BadInput, match="outside the allowed folders") as err:
        validate_image_path(sneaky, (allowed,))
    assert sneaky in err.value.message


def test_symlink_escape_is_refused_and_inner_link_allowed(roots: tuple[Path, Path]) -> None:
    allowed, outside = roots
    (outside / "secret.png").write_bytes(png_bytes())
    os.symlink(outside / "secret.png", allowed / "link.png")
    os.symlink(outside, allowed / "dirlink")
    with pytest.raises(BadInput, match="outside the allowed folders"):
        validate_image_path(str(allowed / "link.png"), (allowed,))
    with pytest.raises(BadInput, match="outside the allowed folders"):
        validate_image_path(str(allowed / "dirlink" / "secret.png"), (allowed,))
    (allowed / "real.png").write_bytes(png_bytes())
    os.symlink(allowed / "real.png", allowed / "inner.png")
    assert validate_image_path(str(allowed / "inner.png"), (allowed,)) == (allowed / "real.png").resolve()


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("missing.png", None, "does not exist"),
        ("notes.png", b"just some text, not an image", "not an image Pillow can read"),
        ("empty.png", b"", "is empty"),
    ],
)
def test_bad_files_are_refused_naming_the_path(
    roots: tuple[Path, Path], name: str, content: bytes | None, message: str
) -> None:
    allowed, _ = roots
    path = allowed / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BadInput, match=message) as err:
        validate_image_path(str(path), (allowed,))
    assert str(path) in err.value.message


def test_directory_empty_path_and_no_roots_refused(roots: tuple[Path, Path]) -> None:
    allowed, _ = roots
    with pytest.raises(BadInput, match="not a regular file"):
        validate_image_path(str(allowed), (allowed,))
    with pytest.raises(BadInput, match="empty"):
        validate_image_path("  ", (allowed,))
    with pytest.raises(BadInput, match="NUL"):
        validate_image_path("a\x00b.png", (allowed,))
    (allowed / "ok.png").write_bytes(png_bytes())
    with pytest.raises(BadInput, match="no image folders"):
        validate_image_path(str(allowed / "ok.png"), ())


def test_file_over_50_mb_is_refused(roots: tuple[Path, Path]) -> None:
    allowed, _ = roots
    big = allowed / "big.png"
    with open(big, "wb") as fh:
        fh.write(png_bytes())
        fh.truncate(51 * 1024 * 1024)  # sparse: instant, no real disk use
    with pytest.raises(BadInput, match=r"51 MB; the limit is 50 MB"):
        validate_image_path(str(big), (allowed,))


def test_decompression_bombs_are_refused_without_decoding(roots: tuple[Path, Path]) -> None:
    allowed, _ = roots
    over = png_header_only(allowed / "over.png", 10_000, 6_000)  # 60 MP, under Pillow's own limit
    with pytest.raises(BadInput, match=r"10000x6000 \(60 megapixels\); the limit is 50 megapixels") as err:
        validate_image_path(str(over), (allowed,))
    assert "over.png" in err.value.message
    bomb = png_header_only(allowed / "bomb.png", 30_000, 30_000)  # Pillow itself refuses to open this
    with pytest.raises(BadInput, match="megapixels|decompression bomb"):
        validate_image_path(str(bomb), (allowed,))
    with pytest.raises(BadInput, match="megapixels|decompression bomb"):
        normalise_image(bomb, (64, 64))


def test_store_upload_uses_safe_unique_names(tmp_path: Path) -> None:
    up = tmp_path / "uploads"
    a = store_upload(png_bytes(), "../../etc/My Photo (1).png", up)
    b = store_upload(png_bytes(), "../../etc/My Photo (1).png", up)
    assert a != b and a.parent == up.resolve() and b.parent == up.resolve()
    assert re.fullmatch(r"[0-9a-f]{12}_My_Photo_1\.png", a.name)
    assert a.read_bytes() == png_bytes()
    assert validate_image_path(str(a), (up,)) == a
    # format comes from the content, not the name
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), "white").save(buf, format="JPEG")
    c = store_upload(buf.getvalue(), "sneaky.png.exe", up)
    assert c.suffix == ".jpg"
    assert [p for p in up.iterdir() if is_part_name(p.name)] == []


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "empty"),
        (b"<html>not an image</html>", "not an image"),
        (png_bytes((300, 300))[:200], "damaged or truncated|not an image"),
    ],
)
def test_store_upload_refuses_non_images(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(BadInput, match=message) as err:
        store_upload(data, "x.png", tmp_path / "up")
    assert "x.png" in err.value.message
    assert not (tmp_path / "up").exists() or list((tmp_path / "up").iterdir()) == []


def test_store_upload_refuses_large_and_bomb(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="limit is 1 MB"):
        store_upload(b"\x89PNG" + b"\x00" * (2 * 1024 * 1024), "big.png", tmp_path, max_bytes=1024 * 1024)
    bomb = png_header_only(tmp_path / "b.png", 10_000, 6_000).read_bytes()
    with pytest.raises(BadInput, match="megapixels"):
        store_upload(bomb, "b.png", tmp_path / "up")


# --- normalising odd inputs ---------------------------------------------------------------------


def test_alpha_png_is_flattened_to_rgb(tmp_path: Path) -> None:
    arr = np.zeros((60, 100, 4), np.uint8)
    arr[:, :50] = (255, 0, 0, 0)  # fully transparent red
    arr[:, 50:] = (0, 255, 0, 255)  # opaque green
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    out = normalise_image(tmp_path / "a.png", (100, 60))
    assert out.mode == "RGB" and out.size == (100, 60)
    px = np.asarray(out)
    assert tuple(px[30, 10]) == (0, 0, 0)
    assert tuple(px[30, 90]) == (0, 255, 0)


def test_16_bit_png_keeps_its_brightness(tmp_path: Path) -> None:
    Image.fromarray(np.full((60, 100), 32768, np.uint16)).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as im:
        assert im.mode.startswith("I")
    out = normalise_image(tmp_path / "g16.png", (100, 60))
    assert out.mode == "RGB"
    assert abs(int(np.asarray(out)[30, 50, 0]) - 128) <= 1


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (100, 60), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)
    out = normalise_image(tmp_path / "cmyk.jpg", (100, 60))
    r, g, b = np.asarray(out)[30, 50]
    assert out.mode == "RGB" and r > 200 and g < 60 and b < 60


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    arr = np.zeros((100, 200, 3), np.uint8)
    arr[:, 100:] = 255  # right half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(arr).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    out = normalise_image(tmp_path / "rot.jpg", (50, 50))
    assert out.height > out.width  # portrait once upright
    px = np.asarray(out)
    assert px[out.height - 5, out.width // 2].mean() > 200  # the white half is now at the bottom
    assert px[5, out.width // 2].mean() < 50


def test_tiny_refused_small_upscaled_huge_downscaled(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8), "red").save(tmp_path / "tiny.png")
    with pytest.raises(BadInput, match=r"only 8x8 pixels") as err:
        normalise_image(tmp_path / "tiny.png", (1344, 768))
    assert "tiny.png" in err.value.message
    Image.new("RGB", (48, 36), "blue").save(tmp_path / "small.png")
    small = normalise_image(tmp_path / "small.png", (1344, 768))
    assert small.width >= 1344 and small.height >= 768
    Image.new("RGB", (6000, 3000), "green").save(tmp_path / "huge.jpg", quality=80)
    huge = normalise_image(tmp_path / "huge.jpg", (1344, 768))
    assert max(huge.size) <= MAX_SIDE and huge.width >= 1344 and huge.height >= 768
    assert abs(huge.width / huge.height - 2.0) < 0.01


def test_palette_transparency_and_animated_gif(tmp_path: Path) -> None:
    frames = [Image.new("P", (64, 48), i) for i in (1, 2)]
    for f in frames:
        f.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], transparency=0)
    out = normalise_image(tmp_path / "anim.gif", (64, 48))
    assert out.mode == "RGB" and tuple(np.asarray(out)[10, 10]) == (255, 0, 0)


# --- thin strips, hostile paths, bounded output -------------------------------------------------


@pytest.mark.parametrize("size", [(32, 50_000), (50_000, 32), (2_100, 100)])
def test_extreme_aspect_ratios_are_refused_before_decode(
    roots: tuple[Path, Path], tmp_path: Path, size: tuple[int, int]
) -> None:
    allowed, _ = roots
    strip = png_header_only(allowed / "strip.png", *size)  # header only: a decode would fail
    pattern = rf"{size[0]}x{size[1]}, an aspect ratio of \d+:1; the limit is 20:1"
    with pytest.raises(BadInput, match=pattern):
        validate_image_path(str(strip), (allowed,))
    with pytest.raises(BadInput, match=pattern):
        store_upload(strip.read_bytes(), "strip.png", tmp_path / "up")
    with pytest.raises(BadInput, match=pattern):
        normalise_image(strip, (1344, 768))
    with pytest.raises(BadInput, match=pattern):
        store_upload_file(strip, "strip.png", tmp_path / "up")
    assert not (tmp_path / "up").exists() or list((tmp_path / "up").iterdir()) == []


def test_wide_panorama_within_the_limit_is_kept() -> None:
    out = fit_cover(Image.new("RGB", (1900, 100)), (1344, 768))  # 19:1 passes the header check
    assert out.height == 768 and out.width <= MAX_SIDE  # covers, middle kept, bounded


@pytest.mark.parametrize(
    ("size", "cover"),
    [
        ((32, 5_000), (1344, 768)),
        ((5_000, 32), (768, 1344)),
        ((40, 4_000), (1920, 1080)),
        ((100, 100), (1344, 768)),
    ],
)
def test_fit_cover_output_is_bounded_and_covers(size: tuple[int, int], cover: tuple[int, int]) -> None:
    # Scaling alone would ask for 1344x210,000 (32x5000 covering 1344x768); the output is cropped
    # to its middle instead, so no caller can make Pillow allocate more than max_side squared.
    out = fit_cover(Image.new("RGB", size, "white"), cover)
    limit = max(MAX_SIDE, *cover)
    assert out.width <= limit and out.height <= limit
    assert out.width >= cover[0] and out.height >= cover[1]


def test_store_upload_file_moves_a_streamed_file_into_place(tmp_path: Path) -> None:
    up = tmp_path / "up"
    up.mkdir()
    received = up / ".upload.abc.part"
    received.write_bytes(png_bytes((64, 48)))
    stored = store_upload_file(received, "../Holiday Pic.PNG", up)
    assert not received.exists() and stored.parent == up.resolve()
    assert re.fullmatch(r"[0-9a-f]{12}_Holiday_Pic\.png", stored.name)
    received.write_bytes(b"")
    with pytest.raises(BadInput, match="is empty"):
        store_upload_file(received, "x.png", up)
    received.write_bytes(png_bytes((300, 300))[:200])
    with pytest.raises(BadInput, match="damaged or truncated|not an image"):
        store_upload_file(received, "x.png", up)
    assert sorted(p.name for p in up.iterdir()) == sorted([stored.name, received.name])


@pytest.mark.parametrize("bad", ["a\x00b.png", "a\ud800.png", "a\nb.png", "\x1b[31m.png"])
def test_hostile_path_text_is_refused_not_crashed(roots: tuple[Path, Path], bad: str) -> None:
    allowed, _ = roots
    with pytest.raises(BadInput, match="NUL byte|control characters or invalid Unicode"):
        validate_image_path(str(allowed / bad), (allowed,))
