"""The directions of dependency (DESIGN.md "Layers") hold: import-linter's contracts in
pyproject.toml, checked over the source as it is now."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    for contract in ("core-no-vendor", "vendors-standalone", "layers"):
        assert f'id = "{contract}"' in (ROOT / "pyproject.toml").read_text()


def test_a_core_import_of_a_vendor_module_breaks_the_contract(tmp_path: Path) -> None:
    # The sandbox's dummy imports are the one allowed exception: without it the tool must object.
    config = (ROOT / "pyproject.toml").read_text()
    stripped = "\n".join(
        line for line in config.splitlines() if "franchise_platform.sandbox.* ->" not in line
    )
    assert stripped != config
    (tmp_path / "pyproject.toml").write_text(stripped)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("lint-imports")),
            "--no-cache",
            "--config",
            str(tmp_path / "pyproject.toml"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "franchise_platform.sandbox" in result.stdout
    assert "crm_connectors.dummy" in result.stdout
