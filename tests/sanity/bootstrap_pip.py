# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the get-pip bootstrap script that ``ansible-test --venv`` downloads.

ansible-test fetches get-pip from its own CI file host, which these build machines cannot reach
(they reach package registries only). It runs the cached script as ``__main__`` inside a new
virtual environment with pip's arguments (``pip==<version>``...). This stand-in does the same job
from what Python ships and PyPI: ``ensurepip`` installs the bundled pip, which then installs the
exact packages ansible-test asked for. The Makefile copies it into ansible-test's cache.

ansible-test runs pip with no configuration file, so the bundled pip is pointed at the system's
CA bundle explicitly (machines behind a TLS-inspecting proxy trust it there); the pip it installs
uses the system trust store by itself.
"""

import ensurepip
import os
import ssl
import subprocess
import sys


def main():
    """Install the bundled pip, then the packages named on the command line."""
    ensurepip.bootstrap(upgrade=True, default_pip=True)
    command = [sys.executable, "-m", "pip", "install", "--upgrade"]
    paths = ssl.get_default_verify_paths()
    for cafile in (paths.cafile, paths.openssl_cafile):
        if cafile and os.path.isfile(cafile):
            command += ["--cert", cafile]
            break
    command += [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    subprocess.check_call(command)


if __name__ == "__main__":
    main()
