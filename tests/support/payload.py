"""What Ansible's controller ships with one of the collection's modules (its AnsiballZ payload).

The controller parses the module and every module_utils file it imports (lazily imported ones included) to build
the payload, and the module's process compiles the shipped files it imports from source on every run (a zip holds
no bytecode), so the size of the collection's code in a payload costs time twice per task. Built with Ansible's own
finder (``ansible.executor.module_common.recursive_finder``); used by ``tests/unit/plugins/modules/test_payload.py``
and ``make bench``.
"""

from __future__ import annotations

import datetime
import io
import zipfile
from pathlib import Path

from tests.support.ansible import COLLECTIONS

MODULES = "ansible_collections.configmgr.cmg.plugins.modules."


def shipped(module: str, collections: Path = COLLECTIONS) -> dict[str, int]:
    """The collection's files in ``module``'s payload (module_utils by name without ``.py``, the module itself by
    its name) with their sizes in bytes; ``ansible.*`` modules ship none."""
    # pylint: disable=import-outside-toplevel
    from ansible._internal._ansiballz import _builder
    from ansible._internal._datatag._tags import Origin
    from ansible.executor import module_common
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    if not module.startswith("cmg_"):
        return {}
    _AnsibleCollectionFinder(paths=[str(collections)])._install()
    path = collections / "ansible_collections" / "configmgr" / "cmg" / "plugins" / "modules" / f"{module}.py"
    source = path.read_bytes()
    payload = zipfile.ZipFile(io.BytesIO(), "w")
    module_common.recursive_finder(module, MODULES + module, Origin(path=str(path)).tag(source), payload,
                                   datetime.datetime.now(datetime.timezone.utc), _builder.ExtensionManager.create(task_vars={}))
    files = {info.filename.rsplit("/", 1)[1][:-3]: info.file_size for info in payload.infolist()
             if "/module_utils/" in info.filename and "configmgr" in info.filename and not info.filename.endswith("__init__.py")}
    files[module] = len(source)
    return files
