"""Materialise the second held-out post-mortem set as a corpus folder in the import format.

Same format, same sources layout and same options as `../heldout/build.py`, whose code this
script reuses: only the manifest (`manifest.json` next to this file), the `--inject-template`
boilerplate of this set's organisations and the removal of MDX `import`/`export` lines (one
write-up is an MDX page) differ.

    python bench/similarity/heldout2/build.py --sources SOURCES --out DIR [--inject-template]

SOURCES holds one git directory per repository, named `owner+name` (a bare clone, a normal
clone, or a folder with the git directory in `repo/`). No network access is needed.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"


def _load_first_build():
    """The first held-out set's build module, loaded from its file (bench is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "heldout_build", HERE.parent / "heldout" / "build.py"
    )
    module = importlib.util.module_from_spec(spec)
    # Registered first: its dataclass looks its own module up in sys.modules while being built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


base = _load_first_build()

# Boilerplate for --inject-template, written for this set; organisations not listed here (the
# DeFi protocols analysed by a third party) get the first set's DEFAULT_TEMPLATE.
TEMPLATES: dict[str, tuple[str, str]] = {
    "DFDS": (
        "DFDS Cloud Engineering apologises to the development teams and business units whose "
        "services were affected by this incident. This post-mortem describes the impact, the "
        "contributing factors and the actions we have agreed.",
        "DFDS Cloud Engineering is committed to a reliable self-service platform for every "
        "DFDS team. Action items from this post-mortem are tracked on our board and reviewed "
        "at the next operations meeting.",
    ),
    "Project Jupyter": (
        "The mybinder.org operating team apologises to everyone whose Binder sessions, builds "
        "or tutorials were disrupted. This incident report explains what happened and what we "
        "are changing.",
        "mybinder.org is a free public service run by the Project Jupyter community, and we "
        "are committed to keeping it available. Follow-up work is tracked as issues in the "
        "deployment repository.",
    ),
    "EDGI": (
        "The EDGI Web Monitoring team apologises to the analysts and volunteers whose work "
        "depends on our monitoring services. This incident report records what happened and "
        "what we learned.",
        "EDGI is committed to dependable monitoring of government websites. We review every "
        "incident together and track the action items in our repositories.",
    ),
    "Open Food Facts": (
        "The Open Food Facts infrastructure volunteers apologise to the contributors, apps and "
        "reusers affected by this incident. This report describes the symptoms, the "
        "investigation and the fix.",
        "Open Food Facts is committed to keeping its open database available to everyone. "
        "Infrastructure reports like this one are public so that anyone can learn from them.",
    ),
    "n0": (
        "The n0 team is sorry for the disruption this caused to everyone building on iroh and "
        "our public relays. Here is what happened and what we have done about it.",
        "n0 is committed to running public infrastructure the iroh community can rely on, and "
        "we will keep publishing post-mortems when things go wrong.",
    ),
}

_MDX_IMPORT = re.compile(r"^import\s.*$", re.M)
_MDX_EXPORT_BLOCK = re.compile(r"^export\s+const\s+\w+\s*=\s*\{.*?^\}\s*$", re.M | re.S)
_MDX_EXPORT_LINE = re.compile(r"^export\s.*$", re.M)
_first_to_markdown = base.to_markdown


def to_markdown(raw: str, title: str) -> str:
    """The first set's conversion, after dropping MDX `import` and `export` statements."""
    text = _MDX_EXPORT_BLOCK.sub("", raw)
    text = _MDX_IMPORT.sub("", text)
    text = _MDX_EXPORT_LINE.sub("", text)
    return _first_to_markdown(text, title)


# The first set's build() and render() look these names up in their own module at call time,
# so pointing them at this set's manifest, boilerplate and conversion is all that differs.
base.TEMPLATES = TEMPLATES
base.to_markdown = to_markdown
_first_load_manifest = base.load_manifest
base.load_manifest = lambda path=MANIFEST: _first_load_manifest(path)


def main(argv: list[str] | None = None) -> int:
    """Command line: build the folder and report how many write-ups were written."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sources", type=Path, required=True, help="folder of owner+name git directories"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write the corpus to")
    parser.add_argument(
        "--inject-template",
        action="store_true",
        help="add per-organisation boilerplate opening and closing paragraphs",
    )
    args = parser.parse_args(argv)
    problems = base.build(args.sources, args.out, templated=args.inject_template)
    written = len(list(args.out.glob("*.md")))
    print(f"{written} write-ups in {args.out}")
    for problem in problems:
        print(f"missing: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
