"""Uploaded images (speakers' photos, partners' logos): checked, re-encoded, stored under a random name.

An upload is trusted for nothing: Pillow must recognise it as a JPEG, PNG or
WebP picture by its content (not its name or the browser's content type), it
must be smaller than UPLOAD_MAX_BYTES and UPLOAD_MAX_PIXELS, and it is then
drawn again into a new file of at most UPLOAD_MAX_SIDE pixels a side. So
what is stored and served is a clean picture: no camera metadata (a phone's
GPS position), no trailing bytes (an image that is also a script or an HTML
page), nothing the visitor's browser could take for something else. The file
name is random (``secrets``); the extension follows the picture's real format,
and the file is served with that format's content type, ``nosniff`` and a
Content Security Policy that runs nothing.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO

from flask import Flask, abort, current_app, request, send_from_directory
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import DomainError

# Real format (as Pillow names it) -> stored extension and served content type.
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
CONTENT_TYPES = {extension: content_type for extension, content_type in FORMATS.values()}
ACCEPT = ",".join(["image/jpeg", "image/png", "image/webp"])  # the file input's hint; the server decides
NAME = re.compile(r"^[A-Za-z0-9_-]{22}\.(jpg|png|webp)$")


class InvalidImage(DomainError):
    """The upload is not a picture this application keeps."""

    message = _l("The file is not a JPEG, PNG or WebP picture.")


class ImageTooLarge(InvalidImage):
    """The upload is larger than the limit."""

    def __init__(self, limit_bytes: int, field: str | None = None) -> None:
        super().__init__(
            _l("The picture is too large: at most %(size)s MB.", size=f"{limit_bytes / 1_000_000:g}"), field
        )


def upload_folder() -> Path:
    """Return the folder of uploaded images (UPLOAD_FOLDER, by default instance/uploads), made if missing."""
    folder = Path(current_app.config.get("UPLOAD_FOLDER") or Path(current_app.instance_path) / "uploads")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_image(stream: IO[bytes], field: str | None = None) -> str:
    """Check the uploaded picture, store a clean copy under a new random name and return that name.

    :raises InvalidImage: when it is not a JPEG, PNG or WebP picture, or too many pixels.
    :raises ImageTooLarge: when it is larger than UPLOAD_MAX_BYTES.
    """
    limit = int(current_app.config["UPLOAD_MAX_BYTES"])
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLarge(limit, field)
    picture = _open(data, int(current_app.config["UPLOAD_MAX_PIXELS"]), field)
    side = int(current_app.config["UPLOAD_MAX_SIDE"])
    source_format = picture.format or ""
    picture = ImageOps.exif_transpose(picture)
    picture.thumbnail((side, side))
    extension = FORMATS[source_format][0]
    out = io.BytesIO()
    if source_format == "JPEG":
        picture.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    elif source_format == "PNG":
        picture.save(out, "PNG", optimize=True)
    else:
        picture.save(out, "WEBP", quality=85)
    name = f"{secrets.token_urlsafe(16)}.{extension}"
    _write(upload_folder() / name, out.getvalue())
    return name


def copy_image(name: str | None) -> str | None:
    """Store a copy of an uploaded picture under a new name (a cloned event's own), or None when it is gone."""
    if not name or not NAME.match(name):
        return None
    source = upload_folder() / name
    if not source.is_file():
        return None
    copy = f"{secrets.token_urlsafe(16)}.{name.rsplit('.', 1)[1]}"
    shutil.copyfile(source, upload_folder() / copy)
    return copy


def delete_image(name: str | None) -> None:
    """Remove an uploaded picture; a missing file is no error."""
    if name and NAME.match(name):
        (upload_folder() / name).unlink(missing_ok=True)


def _open(data: bytes, max_pixels: int, field: str | None) -> Image.Image:
    """Return the decoded picture, refused unless Pillow reads it whole as an allowed format."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data), formats=list(FORMATS))
            if probe.width * probe.height > max_pixels:
                raise InvalidImage(
                    _l("The picture has too many pixels: at most %(n)s million.", n=f"{max_pixels / 1_000_000:g}"),
                    field,
                )
            probe.verify()  # checks the whole file; the object cannot be used afterwards
            picture = Image.open(io.BytesIO(data), formats=list(FORMATS))
            picture.load()
    except InvalidImage:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning) as error:
        raise InvalidImage(field=field) from error
    if picture.format not in FORMATS:
        raise InvalidImage(field=field)
    return picture


def _write(path: Path, data: bytes) -> None:
    """Write the file whole or not at all (a reader never sees half a picture)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def serve(name: str):  # type: ignore[no-untyped-def]
    """Send an uploaded picture with its own content type; unknown or malformed names are 404."""
    if not NAME.match(name):
        abort(404)
    response = send_from_directory(
        upload_folder(), name, mimetype=CONTENT_TYPES[name.rsplit(".", 1)[1]], max_age=365 * 24 * 3600
    )
    # The name is random and never reused, so the content never changes.
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Content-Disposition"] = "inline"
    return response


def accepts_uploads(view: Callable) -> Callable:
    """Mark a view whose form carries a picture: its requests may be UPLOAD_MAX_BYTES larger than others."""
    view.accepts_uploads = True  # type: ignore[attr-defined]
    return view


def _allow_upload_size() -> None:
    """Raise this request's size limit for a view marked with :func:`accepts_uploads`."""
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "accepts_uploads", False):
        request.max_content_length = int(current_app.config["MAX_CONTENT_LENGTH"] or 0) + int(
            current_app.config["UPLOAD_MAX_BYTES"]
        )


def init_media(app: Flask) -> None:
    """Serve uploaded pictures at /media/<name>; let marked views take a picture's size.

    The size check goes first among the app's before-request functions: the CSRF
    check reads the form, and with it the body, before any other runs.
    """
    app.add_url_rule("/media/<name>", "media", serve)
    app.before_request_funcs.setdefault(None, []).insert(0, _allow_upload_size)
