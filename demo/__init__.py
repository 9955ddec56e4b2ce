# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``make demo`` (demo/run.py) and the sandbox process helper that molecule uses too (demo/sandbox.py)."""
