"""The archive amoCRM receives: layout, manifest, logos, locales, and nothing that must not ship."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .conftest import REPO_ROOT, WIDGET_SRC

BASE_URL = "https://pay.example.test"
# Sizes amoCRM requires for a widget shown in cards (shared/specs/amocrm.md §4.1).
REQUIRED_IMAGES = {
    "images/logo_main.png": (400, 272),
    "images/logo_small.png": (108, 108),
    "images/logo.png": (130, 100),
    "images/logo_medium.png": (240, 84),
    "images/logo_min.png": (84, 84),
}
SECRET_PATTERNS = [
    r"client_secret",
    r"secret_key",
    r"AMOCRM_CLIENT",
    r"api_token",
    r"Bearer\s",
    r"password",
    r"-----BEGIN",
    r"eyJ[A-Za-z0-9_-]{8,}\.",  # a JWT
]


@pytest.fixture(scope="module")
def archive(widget_build: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    path = widget_build.build_widget(BASE_URL, tmp_path_factory.mktemp("zip") / "widget.zip")
    return zipfile.ZipFile(path)


def read_json(archive: zipfile.ZipFile, name: str) -> dict[str, Any]:
    return json.loads(archive.read(name).decode("utf-8"))


def flatten(tree: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in tree.items():
        if isinstance(value, dict):
            keys |= flatten(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decodes an 8-bit RGB/RGBA PNG into rows of pixel bytes (enough to check it is not blank)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = color = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8, "expected 8 bits per channel"
    assert color in (2, 6), "expected an RGB or RGBA PNG"
    bpp = 4 if color == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def test_files_sit_at_the_archive_root(archive: zipfile.ZipFile) -> None:
    names = archive.namelist()
    assert "manifest.json" in names
    assert "script.js" in names
    assert "style.css" in names
    assert all(not n.startswith("/") and ".." not in n for n in names)
    # zipped contents, not a folder: no common top-level directory wraps the widget
    assert not any(n.endswith("/manifest.json") for n in names)


def test_archive_ships_only_widget_files(archive: zipfile.ZipFile) -> None:
    allowed = re.compile(
        r"^(manifest\.json|script\.js|style\.css|i18n/[a-z]{2}\.json|images/[a-z_]+\.png)$"
    )
    assert [n for n in archive.namelist() if not allowed.match(n)] == []


def test_manifest_has_required_fields_and_interface_version_2(archive: zipfile.ZipFile) -> None:
    manifest = read_json(archive, "manifest.json")
    widget = manifest["widget"]
    for key in (
        "name",
        "description",
        "short_description",
        "version",
        "interface_version",
        "init_once",
        "locale",
        "installation",
    ):
        assert key in widget, key
    assert widget["interface_version"] == 2
    assert widget["init_once"] is False
    assert widget["locale"][0] == "ru"
    assert set(widget["locale"]) == {"ru", "en"}
    # legacy fields; amoCRM generates the code at upload and no secret may ship in the archive
    assert "code" not in widget
    assert "secret_key" not in widget
    assert widget["support"]["link"] == BASE_URL + "/"


def test_manifest_places_the_widget_in_the_lead_card_panel_and_settings(
    archive: zipfile.ZipFile,
) -> None:
    locations = read_json(archive, "manifest.json")["locations"]
    assert "lcard-1" in locations  # -1: the card's right-hand widget panel
    assert "settings" in locations


def test_installation_form_has_a_settings_block(archive: zipfile.ZipFile) -> None:
    manifest = read_json(archive, "manifest.json")
    assert manifest["widget"]["installation"] is True
    assert manifest["settings"]
    for spec in manifest["settings"].values():
        assert spec["type"] in ("text", "pass", "users", "users_lp", "custom")
        assert spec["required"] is False


@pytest.mark.parametrize(("name", "size"), sorted(REQUIRED_IMAGES.items()))
def test_logo_has_the_exact_size_and_is_not_blank(
    archive: zipfile.ZipFile, name: str, size: tuple[int, int]
) -> None:
    data = archive.read(name)
    assert len(data) <= 300 * 1024
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == size
    width, height, rows = png_pixels(data)
    assert (width, height) == size
    colours = {row[i : i + 4] for row in rows[::4] for i in range(0, len(row), 16)}
    assert len(colours) >= 3, "a logo should be more than a flat fill"


def test_images_named_in_the_manifest_are_in_the_archive(archive: zipfile.ZipFile) -> None:
    manifest = read_json(archive, "manifest.json")
    for refs in manifest["tour"]["tour_images"].values():
        for ref in refs:
            assert ref.lstrip("/") in archive.namelist()


def test_every_i18n_key_exists_in_both_locales(archive: zipfile.ZipFile) -> None:
    ru = read_json(archive, "i18n/ru.json")
    en = read_json(archive, "i18n/en.json")
    assert flatten(ru) == flatten(en)
    for catalog in (ru, en):
        assert all(isinstance(v, str) and v.strip() for v in _leaves(catalog))


def test_manifest_i18n_keys_resolve_in_both_locales(archive: zipfile.ZipFile) -> None:
    manifest = read_json(archive, "manifest.json")
    named = {
        manifest["widget"]["name"],
        manifest["widget"]["description"],
        manifest["widget"]["short_description"],
        manifest["tour"]["tour_description"],
    }
    named |= {field["name"] for field in manifest["settings"].values()}
    for locale in manifest["widget"]["locale"]:
        assert named <= flatten(read_json(archive, f"i18n/{locale}.json")), locale


def test_strings_used_by_the_script_exist_in_both_locales(archive: zipfile.ZipFile) -> None:
    script = archive.read("script.js").decode("utf-8")
    used = set(re.findall(r"\bt\('([a-z_]+(?:\.[a-z_0-9]+)+)'(?!\s*\+)", script))
    assert "lcard.generate" in used
    assert "lcard.connect.title" in used
    # keys the script builds from the contract's enumerations
    used |= {f"lcard.kind.{k}" for k in ("prepayment", "full", "other")}
    used |= {f"lcard.link_status.{s}" for s in ("active", "paid", "closed", "unknown")}
    used |= {
        f"lcard.deal_status.{s}"
        for s in ("open", "partially_paid", "paid", "overpaid", "partially_refunded", "refunded")
    }
    used |= {f"lcard.errors.status_{s}" for s in (400, 401, 403, 404, 409, 422, 429, "5xx")}
    used |= {f"lcard.{k}" for k in ("total", "paid", "remaining")}
    for locale in ("ru", "en"):
        missing = used - flatten(read_json(archive, f"i18n/{locale}.json"))
        assert not missing, (locale, sorted(missing))


def test_script_is_an_amd_module_bound_to_the_configured_origin(archive: zipfile.ZipFile) -> None:
    script = archive.read("script.js").decode("utf-8")
    assert script.count("define(['jquery'], function ($)") == 1
    for callback in ("render", "init", "bind_actions", "settings", "onSave", "destroy"):
        assert re.search(rf"\b{callback}: function", script), callback
    assert f'var BASE_URL = "{BASE_URL}";' in script
    assert "$authorizedAjax" in script
    assert "__PLATFORM_BASE_URL__" not in script
    assert "__I18N_RU__" not in script
    # the Russian fallback catalogue is inlined
    assert "Сформировать ссылки" in script


def test_no_secrets_or_local_addresses_ship(archive: zipfile.ZipFile) -> None:
    for name in archive.namelist():
        if name.endswith(".png"):
            continue
        text = archive.read(name).decode("utf-8")
        for pattern in SECRET_PATTERNS:
            assert not re.search(pattern, text, re.IGNORECASE), (name, pattern)
        for leftover in (
            "localhost",
            "127.0.0.1",
            "0.0.0.0",
            "__PLATFORM_BASE_URL__",
            "example.com",
        ):
            assert leftover not in text, (name, leftover)
        hosts = set(re.findall(r"https?://[^\s\"'/)]+", text))
        assert hosts <= {BASE_URL}, (name, hosts)


def test_build_is_reproducible(widget_build: ModuleType, tmp_path: Path) -> None:
    first = widget_build.build_widget(BASE_URL, tmp_path / "a" / "widget.zip").read_bytes()
    second = widget_build.build_widget(BASE_URL, tmp_path / "b" / "widget.zip").read_bytes()
    assert first == second


@pytest.mark.parametrize(
    "bad",
    [
        "pay.example.test",
        "ftp://pay.example.test",
        "https://pay.example.test/api",
        "https://pay.example.test/?x=1",
    ],
)
def test_build_refuses_a_base_url_that_is_not_an_origin(
    widget_build: ModuleType, tmp_path: Path, bad: str
) -> None:
    with pytest.raises(widget_build.BuildError):
        widget_build.build_widget(bad, tmp_path / "widget.zip")
    assert not (tmp_path / "widget.zip").exists()


def test_command_line_takes_the_base_url_from_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "widget.zip"
    env = {**os.environ, "PLATFORM_BASE_URL": "https://links.example.test:8443/"}
    subprocess.run(
        [sys.executable, str(WIDGET_SRC / "build.py"), "--output", str(out)],
        env=env,
        check=True,
        capture_output=True,
        cwd=REPO_ROOT,
    )
    with zipfile.ZipFile(out) as zf:
        assert 'var BASE_URL = "https://links.example.test:8443";' in zf.read("script.js").decode()


def test_command_line_defaults_to_the_local_dev_server(tmp_path: Path) -> None:
    out = tmp_path / "widget.zip"
    env = {k: v for k, v in os.environ.items() if k != "PLATFORM_BASE_URL"}
    result = subprocess.run(
        [sys.executable, str(WIDGET_SRC / "build.py"), "--output", str(out)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert "http://localhost:8000" in result.stdout
    with zipfile.ZipFile(out) as zf:
        assert 'var BASE_URL = "http://localhost:8000";' in zf.read("script.js").decode()
        assert (
            read_json(zf, "manifest.json")["widget"]["support"]["link"] == "http://localhost:8000/"
        )


def test_committed_logos_match_the_generator(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(WIDGET_SRC / "images.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in REQUIRED_IMAGES:
        committed = WIDGET_SRC / name
        assert committed.read_bytes() == (tmp_path / Path(name).name).read_bytes(), name


def _leaves(tree: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for value in tree.values():
        out.extend(_leaves(value) if isinstance(value, dict) else [value])
    return out
