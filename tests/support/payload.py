"""What Ansible's controller ships with one of the collection's modules (its AnsiballZ payload).

The controller parses the module and every module_utils file it imports (lazily imported ones included) to build
the payload, and the module's process compiles the shipped files it imports from source on every run (a zip holds
no bytecode), so the size of the collection's code in a payload costs time twice per task. Built with Ansible's own
finder (``ansible.executor.module_common.recursive_finder``) in a fresh interpreter, where Ansible's collection
loader owns ``ansible_collections`` (a test process may already have imported the collection without it). Used by
``tests/unit/plugins/modules/test_payload.py`` and ``make bench``.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

from tests.support.ansible import COLLECTIONS

_FINDER = r"""
import datetime, io, json, sys, zipfile
from pathlib import Path
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
collections = sys.argv[1]
_AnsibleCollectionFinder(paths=[collections])._install()
from ansible._internal._ansiballz import _builder
from ansible._internal._datatag._tags import Origin
from ansible.executor import module_common
found = {}
for module in sys.argv[2:]:
    path = Path(collections, "ansible_collections", "configmgr", "cmg", "plugins", "modules", module + ".py")
    source = path.read_bytes()
    payload = zipfile.ZipFile(io.BytesIO(), "w")
    module_common.recursive_finder(module, "ansible_collections.configmgr.cmg.plugins.modules." + module,
                                   Origin(path=str(path)).tag(source), payload, datetime.datetime.now(datetime.timezone.utc),
                                   _builder.ExtensionManager.create(task_vars={}))
    files = {info.filename.rsplit("/", 1)[1][:-3]: info.file_size for info in payload.infolist()
             if "/module_utils/" in info.filename and "configmgr" in info.filename and not info.filename.endswith("__init__.py")}
    files[module] = len(source)
    found[module] = files
print(json.dumps(found))
"""


@functools.lru_cache(maxsize=None)
def _all_modules(collections: Path) -> dict[str, dict[str, int]]:
    modules = sorted(path.stem for path in (collections / "ansible_collections" / "configmgr" / "cmg" / "plugins" / "modules")
                     .glob("cmg_*.py"))
    done = subprocess.run([sys.executable, "-c", _FINDER, str(collections), *modules], capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(done.stdout)


def shipped(module: str, collections: Path = COLLECTIONS) -> dict[str, int]:
    """The collection's files in ``module``'s payload (module_utils by name without ``.py``, the module itself by
    its name) with their sizes in bytes; ``ansible.*`` modules such as ``ping`` ship none."""
    return dict(_all_modules(collections).get(module, {}))
