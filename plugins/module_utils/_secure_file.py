# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files the collection reads and writes: key material read bounded and written atomically with mode 0600, and
the text a report file held before it is written again.

A write goes to a temporary file in the target's directory, created with mode 0600 (so the
secret is never readable by others, not even for a moment), flushed to disk, then renamed over
the target: a reader sees the old file or the new one, never half of one, and a failure leaves
the old file untouched.
"""

from __future__ import annotations

import os
import tempfile

from ._errors import CmgError

MAX_FILE_BYTES = 1024 * 1024
SECRET_MODE = 0o600


def _read_upto(path: str, limit: int) -> bytes | None:
    """At most ``limit + 1`` bytes of ``path`` (one more than allowed tells a file that is too large); None when it
    does not exist; other :class:`OSError` s are the caller's to word."""
    try:
        with open(path, "rb") as handle:
            return handle.read(limit + 1)
    except FileNotFoundError:
        return None


def read_bounded(path: str, what: str, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """The bytes of ``path``; None when it does not exist; a :class:`CmgError` when unreadable or too large."""
    try:
        data = _read_upto(path, limit)
    except OSError as exc:
        raise CmgError(f"{what} {path} cannot be read: {exc.strerror or exc}: check the path and its permissions") from exc
    if data is not None and len(data) > limit:
        raise CmgError(f"{what} {path} is larger than {limit} bytes: give the right file")
    return data


def previous_text(path: str, what: str, limit: int = MAX_FILE_BYTES) -> str | None:
    """The text ``path`` holds before it is written again, to compare with the new text: None when it does not
    exist, ``""`` when it is not UTF-8 text or larger than ``limit`` (so it differs and is rewritten); a
    :class:`CmgError` when it cannot be read."""
    try:
        data = _read_upto(path, limit)
    except OSError as exc:
        raise CmgError(f"cannot read the existing {what} {path}: {exc.strerror or exc}: check its permissions") from exc
    if data is None:
        return None
    try:
        return data.decode("utf-8") if len(data) <= limit else ""
    except UnicodeDecodeError:
        return ""


def write_atomic(path: str, data: bytes, mode: int = SECRET_MODE) -> None:
    """Write ``data`` to ``path`` atomically with ``mode`` (0600 by default)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CmgError(f"the directory {directory} of {path} does not exist: create it first")
    try:
        handle, temporary = tempfile.mkstemp(prefix=".cmg-", dir=directory)
    except OSError as exc:
        raise CmgError(f"cannot write in {directory}: {exc.strerror or exc}: check its permissions") from exc
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        _remove(temporary)
        raise CmgError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        _remove(temporary)
        raise


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def mode_of(path: str) -> int | None:
    """The permission bits of ``path`` (None when it does not exist)."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return None
