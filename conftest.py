"""Make the collection importable as ansible_collections.configmgr.cmg for pytest.

The collection is linked (not copied) into .build/collections, so tests always see the working tree.
"""

import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "configmgr", "cmg")

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    try:
        os.symlink(ROOT, LINK)
    except FileExistsError:  # another pytest-xdist worker made it first
        pass
for path in (COLLECTIONS, ROOT):  # ansible_collections.configmgr.cmg, and tests.support
    if path not in sys.path:
        sys.path.insert(0, path)
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", COLLECTIONS)
