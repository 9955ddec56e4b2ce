# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write docs/reference/*.md from the plugins' own DOCUMENTATION, through ``ansible-doc --json``.

    python docs/generate_reference.py          # (re)write docs/reference
    python docs/generate_reference.py --check  # exit 1 when docs/reference is out of date

The reference is generated, never edited by hand: ``make test`` runs ``--check``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "reference"
COLLECTION = "configmgr.cmg"


def _ansible_doc(*args: str) -> Any:
    command = [str(Path(sys.executable).parent / "ansible-doc"), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    return json.loads(done.stdout)


def _plugins() -> list[tuple[str, str]]:
    found = []
    for kind in ("module", "filter", "role"):
        listing = _ansible_doc("--list", "--json", "-t", kind, COLLECTION)
        found += [(kind, name) for name in sorted(listing) if name.startswith(COLLECTION + ".")]
    return found


def _text(value: Any) -> str:
    """Ansible doc markup to Markdown: I(), B(), C(), O(), V(), RV(), E(), U(), L(), M()."""
    if isinstance(value, list):
        return " ".join(_text(item) for item in value)
    text = str(value)
    text = re.sub(r"[CVOE]\(([^)]*)\)|RV\(([^)]*)\)", lambda m: f"`{m.group(1) or m.group(2)}`", text)
    text = re.sub(r"[IB]\(([^)]*)\)", r"*\1*", text)
    text = re.sub(r"U\(([^)]*)\)", r"<\1>", text)
    text = re.sub(r"L\(([^,]*),([^)]*)\)", r"[\1](\2)", text)
    text = re.sub(r"M\(([^)]*)\)", r"`\1`", text)
    return text.replace("|", "\\|").replace("\n", " ")


def _options_table(options: dict[str, Any], depth: int = 0) -> list[str]:
    rows = []
    for name in sorted(options):
        spec = options[name]
        kind = spec.get("type", "str")
        if spec.get("elements"):
            kind += f" / {spec['elements']}"
        extra = []
        if spec.get("required"):
            extra.append("required")
        if "default" in spec and spec["default"] is not None:
            extra.append(f"default `{json.dumps(spec['default'])}`")
        if spec.get("choices"):
            choices = spec["choices"]
            extra.append("choices " + ", ".join(f"`{c}`" for c in (choices if isinstance(choices, list) else list(choices))))
        env = [item["name"] for item in spec.get("env", []) if "name" in item]
        if env:
            extra.append("env " + ", ".join(f"`{e}`" for e in env))
        label = ("&nbsp;&nbsp;" * depth) + ("↳ " if depth else "") + f"`{name}`"
        rows.append(f"| {label} | {kind} | {'; '.join(extra)} | {_text(spec.get('description', ''))} |")
        for key in ("suboptions", "contains", "options"):
            if isinstance(spec.get(key), dict):
                rows += _options_table(spec[key], depth + 1)
    return rows


def _page(kind: str, name: str, data: dict[str, Any]) -> str:
    doc = data.get("doc", {})
    if kind == "role":  # a role has no doc: its short description is the main entry point's
        doc = data.get("entry_points", {}).get("main", {})
    lines = [f"# {name}", "", f"*{kind}* — {_text(doc.get('short_description', ''))}", ""]
    if kind == "role":
        for entry, spec in sorted(data.get("entry_points", {}).items()):
            lines += [f"## Entry point `{entry}`", "", _text(spec.get("description", spec.get("short_description", ""))), "",
                      "| Variable | Type | Details | Description |", "| --- | --- | --- | --- |",
                      *_options_table(spec.get("options", {})), ""]
        return "\n".join(lines).rstrip() + "\n"
    lines += [_text(doc.get("description", "")), ""]
    if doc.get("requirements"):
        lines += ["**Requirements:** " + "; ".join(_text(r) for r in doc["requirements"]), ""]
    heading = "Options" if kind == "module" else "Input and keywords"
    if doc.get("options"):
        lines += [f"## {heading}", "", "| Name | Type | Details | Description |", "| --- | --- | --- | --- |",
                  *_options_table(doc["options"]), ""]
    if doc.get("attributes"):
        lines += ["## Attributes", "", "| Attribute | Support | Description |", "| --- | --- | --- |"]
        for attr, spec in sorted(doc["attributes"].items()):
            lines.append(f"| {attr} | {spec.get('support', '')} | {_text(spec.get('description', ''))} |")
        lines.append("")
    if data.get("examples"):
        lines += ["## Examples", "", "```yaml", str(data["examples"]).strip("\n"), "```", ""]
    returned = data.get("return") or {}
    if returned:
        lines += ["## Return values", "", "| Key | Type | Description |", "| --- | --- | --- |"]
        lines += [re.sub(r"^\| (.*?) \| (.*?) \| .*? \| ", r"| \1 | \2 | ", row) for row in _options_table(returned)]
        lines.append("")
    lines += [f"Generated from the plugin's documentation by `docs/generate_reference.py` (`ansible-doc -t {kind} {name}`)."
              if kind != "module" else f"Generated from the module's documentation by `docs/generate_reference.py` (`ansible-doc {name}`).",
              ""]
    return "\n".join(lines)


def render() -> dict[str, str]:
    """Every reference page, by file name, plus the index."""
    pages: dict[str, str] = {}
    index = ["# Reference", "", "Generated from the collection's own documentation; do not edit by hand.", ""]
    for kind, name in _plugins():
        data = _ansible_doc("--json", "-t", kind, name)[name]
        file_name = f"{kind}_{name.split('.')[-1]}.md"
        pages[file_name] = _page(kind, name, data)
        index.append(f"- [{name}]({file_name}) ({kind})")
    pages["README.md"] = "\n".join(index) + "\n"
    return pages


def main() -> int:
    """Write the pages, or with --check compare them with what is on disk."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when docs/reference is out of date")
    args = parser.parse_args()
    pages = render()
    if args.check:
        stale = sorted(name for name, text in pages.items()
                       if not (OUT / name).is_file() or (OUT / name).read_text(encoding="utf-8") != text)
        extra = sorted(p.name for p in OUT.glob("*.md") if p.name not in pages) if OUT.is_dir() else []
        if stale or extra:
            print(f"docs/reference is out of date ({', '.join(stale + extra)}): run python docs/generate_reference.py")
            return 1
        print(f"docs/reference is up to date ({len(pages)} pages)")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.md"):
        if old.name not in pages:
            old.unlink()
    for name, text in pages.items():
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(pages)} pages to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
