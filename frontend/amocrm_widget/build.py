"""Builds the amoCRM widget archive: dist/widget.zip at the repository root.

    PLATFORM_BASE_URL=https://pay.example.com python frontend/amocrm_widget/build.py [--output PATH]

Standard library only (`make widget` needs no node/npm). The platform's origin is baked into
script.js and manifest.json at build time and is not a widget setting: the widget sends amoCRM's
disposable token to that origin, so an account admin must not be able to point it elsewhere.

The archive holds the files at its root, as amoCRM requires (shared/specs/amocrm.md §4.1), and the
build refuses to produce one that amoCRM would reject or that would misbehave: a manifest without
the required fields, an i18n key missing from one locale, a logo of the wrong size, a leftover
placeholder.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import struct
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "dist" / "widget.zip"
DEFAULT_BASE_URL = "http://localhost:8000"

BASE_URL_PLACEHOLDER = "__PLATFORM_BASE_URL__"
SCRIPT_BASE_URL_SLOT = "'__PLATFORM_BASE_URL__'"
SCRIPT_FALLBACK_SLOT = "/*__I18N_RU__*/{}"
SCRIPT_CARD_SLOT = "/*__FPL_CARD__*/null"
# The card's view and look, shared with Bitrix24's deal tab (served from there as static files).
CARD_DIR = HERE.parent / "static" / "card"
REQUIRED_WIDGET_FIELDS = (
    "name",
    "description",
    "short_description",
    "interface_version",
    "locale",
    "installation",
)
MAX_IMAGE_BYTES = 300 * 1024
# Fixed timestamp: the same sources always give a byte-identical archive.
ZIP_DATE = (2024, 1, 1, 0, 0, 0)


class BuildError(Exception):
    """The sources would not make a valid widget; the message says what to fix."""


def _images_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_fpl_widget_images", HERE / "images.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def normalize_base_url(raw: str) -> str:
    """`scheme://host[:port]` without a trailing slash, or BuildError."""
    value = raw.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BuildError(f"PLATFORM_BASE_URL must look like https://host[:port], got {raw!r}")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise BuildError(f"PLATFORM_BASE_URL must be an origin without path or query, got {raw!r}")
    return value


def png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise BuildError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def flatten_keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            keys |= flatten_keys(value, path + ".")
        else:
            keys.add(path)
    return keys


def manifest_i18n_keys(manifest: dict[str, Any]) -> set[str]:
    """The i18n keys the manifest names (amoCRM looks them up in every locale file)."""
    widget = manifest["widget"]
    keys = {widget["name"], widget["description"], widget["short_description"]}
    tour = manifest.get("tour") or {}
    if tour.get("tour_description"):
        keys.add(tour["tour_description"])
    for field in (manifest.get("settings") or {}).values():
        keys.add(field["name"])
    return keys


def check_manifest(manifest: dict[str, Any]) -> None:
    widget = manifest.get("widget")
    if not isinstance(widget, dict):
        raise BuildError("manifest.json: 'widget' block is missing")
    missing = [f for f in REQUIRED_WIDGET_FIELDS if f not in widget]
    if missing:
        raise BuildError(f"manifest.json: widget fields missing: {', '.join(missing)}")
    if widget["interface_version"] != 2:
        raise BuildError("manifest.json: widget.interface_version must be 2")
    if "code" in widget or "secret_key" in widget:
        raise BuildError("manifest.json: widget.code/secret_key are legacy and must not be shipped")
    locations = manifest.get("locations") or []
    if not any(loc.split("-")[0] == "lcard" for loc in locations) or "settings" not in locations:
        raise BuildError("manifest.json: locations must include lcard and settings")
    if widget["installation"] and not manifest.get("settings"):
        raise BuildError("manifest.json: installation=true needs a settings block")


def collect_files(base_url: str) -> dict[str, bytes]:
    """Archive path -> content, validated."""
    manifest_text = (HERE / "manifest.json").read_text(encoding="utf-8")
    manifest_text = manifest_text.replace(BASE_URL_PLACEHOLDER, base_url)
    manifest = json.loads(manifest_text)
    check_manifest(manifest)
    files: dict[str, bytes] = {"manifest.json": manifest_text.encode("utf-8")}

    locales: list[str] = manifest["widget"]["locale"]
    catalogs: dict[str, dict[str, Any]] = {}
    for code in locales:
        path = HERE / "i18n" / f"{code}.json"
        if not path.is_file():
            raise BuildError(f"i18n/{code}.json is missing (listed in widget.locale)")
        catalogs[code] = json.loads(path.read_text(encoding="utf-8"))
        files[f"i18n/{code}.json"] = path.read_bytes()
    reference = flatten_keys(catalogs[locales[0]])
    for code, catalog in catalogs.items():
        keys = flatten_keys(catalog)
        if keys != reference:
            diff = sorted(keys ^ reference)
            raise BuildError(f"i18n/{code}.json and i18n/{locales[0]}.json differ in keys: {diff}")
        absent = sorted(manifest_i18n_keys(manifest) - keys)
        if absent:
            raise BuildError(f"i18n/{code}.json lacks keys named in manifest.json: {absent}")

    script = (HERE / "script.js").read_text(encoding="utf-8")
    for slot in (SCRIPT_BASE_URL_SLOT, SCRIPT_FALLBACK_SLOT, SCRIPT_CARD_SLOT):
        if script.count(slot) != 1:
            raise BuildError(f"script.js must contain {slot} exactly once")
    fallback = catalogs.get("ru") or catalogs[locales[0]]
    script = script.replace(SCRIPT_BASE_URL_SLOT, json.dumps(base_url))
    script = script.replace(SCRIPT_FALLBACK_SLOT, json.dumps(fallback, ensure_ascii=False))
    # card.js assigns FplCard on its `this`: here a holder object, so nothing leaks into amoCRM.
    card = (CARD_DIR / "card.js").read_text(encoding="utf-8")
    script = script.replace(
        SCRIPT_CARD_SLOT,
        "(function () {\n  var holder = {};\n  (function () {\n"
        + card
        + "\n  }).call(holder);\n  return holder.FplCard;\n}())",
    )
    files["script.js"] = script.encode("utf-8")
    files["style.css"] = (CARD_DIR / "card.css").read_bytes()

    images = _images_module()
    for name, size in images.LOGO_SIZES.items():
        path = HERE / "images" / name
        if path.is_file():
            data = path.read_bytes()
        else:  # committed PNGs are the source; draw a missing one rather than fail a fresh clone
            print(f"note: images/{name} is missing, drawing it", file=sys.stderr)
            data = images.draw_logo(name)
        if png_size(data) != size:
            raise BuildError(f"images/{name} must be {size[0]}x{size[1]}, is {png_size(data)}")
        if len(data) > MAX_IMAGE_BYTES:
            raise BuildError(f"images/{name} is larger than 300 KB")
        files[f"images/{name}"] = data
    for shots in ((manifest.get("tour") or {}).get("tour_images") or {}).values():
        for ref in shots:
            if ref.lstrip("/") not in files:
                raise BuildError(f"manifest.json refers to {ref}, which is not in the archive")

    for name, data in files.items():
        if BASE_URL_PLACEHOLDER.encode() in data:
            raise BuildError(f"{name}: placeholder {BASE_URL_PLACEHOLDER} left in the output")
    return files


def build_widget(base_url: str = DEFAULT_BASE_URL, output: Path = DEFAULT_OUTPUT) -> Path:
    """Writes the widget archive to `output` and returns its path."""
    origin = normalize_base_url(base_url)
    files = collect_files(origin)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    tmp.replace(output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-url",
        default=os.environ.get("PLATFORM_BASE_URL") or DEFAULT_BASE_URL,
        help="platform origin (default: $PLATFORM_BASE_URL or %(default)s)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="archive path (default: dist/widget.zip; amoCRM wants that name)",
    )
    args = parser.parse_args(argv)
    try:
        path = build_widget(args.base_url, args.output)
    except BuildError as exc:
        print(f"widget build failed: {exc}", file=sys.stderr)
        return 1
    origin = normalize_base_url(args.base_url)
    host = urlsplit(origin).hostname or ""
    if origin.startswith("http://") and host not in ("localhost", "127.0.0.1"):
        print(
            "warning: amoCRM pages are HTTPS; browsers block calls to an http:// backend",
            file=sys.stderr,
        )
    print(f"{path} (backend {origin})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
