# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/execution-environment.yml with the real ansible-builder: the build context it creates, offline.

As docs/awx.md says: the definition is copied beside requirements.txt and ``ansible-builder create`` writes
the build context (no image is built: that needs podman or docker). The Python requirements must reach
the context unchanged, and the introspection script of that context, which finds the requirements of every
collection installed in an image, must find ours through the collection's meta/execution-environment.yml.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.ansible import BIN, COLLECTIONS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "meta" / "execution-environment.yml"


def requirement_lines(path: Path) -> list[str]:
    """The requirement lines of a pip requirements file (no comments, no blank lines)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ansible-builder create`` on a copy of the definition beside requirements.txt; the context directory."""
    directory = tmp_path_factory.mktemp("ee")
    shutil.copy(DEFINITION, directory)
    shutil.copy(ROOT / "requirements.txt", directory)
    done = run([str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml",
                "--context", "context", "--output-filename", "Containerfile"], directory)
    assert "Complete! The build context can be found at:" in done.stdout
    return directory / "context"


def test_create_puts_our_requirements_into_the_context(context: Path) -> None:
    definition: dict[str, Any] = yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))
    assert requirement_lines(context / "_build" / "requirements.txt") == requirement_lines(ROOT / "requirements.txt")
    assert yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8")) == {
        "collections": [{"name": "configmgr.cmg"}]}
    containerfile = (context / "Containerfile").read_text(encoding="utf-8").splitlines()
    dependencies = definition["dependencies"]
    install_refs = f'ARG ANSIBLE_INSTALL_REFS="{dependencies["ansible_core"]["package_pip"]} ' \
                   f'{dependencies["ansible_runner"]["package_pip"]}"'
    assert install_refs in containerfile
    assert f'ARG EE_BASE_IMAGE="{definition["images"]["base_image"]["name"]}"' in containerfile
    assert f'ARG PYCMD="{dependencies["python_interpreter"]["python_path"]}"' in containerfile
    assert "COPY _build/requirements.txt requirements.txt" in containerfile
    assert [line for line in containerfile if "introspect.py introspect" in line] == [
        "RUN $PYCMD /output/scripts/introspect.py introspect --user-pip=requirements.txt "
        "--write-bindep=/tmp/src/bindep.txt --write-pip=/tmp/src/requirements.txt"]


def test_introspection_finds_our_requirements_in_the_installed_collection(context: Path) -> None:
    """What the image build runs after installing the collection: meta/execution-environment.yml -> requirements.txt."""
    done = run([str(BIN / "python"), str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                str(COLLECTIONS)], context)
    found = yaml.safe_load(done.stdout)
    wanted = [f"{line}  # from collection configmgr.cmg" for line in requirement_lines(ROOT / "requirements.txt")]
    assert found == {"python": wanted, "system": []}
