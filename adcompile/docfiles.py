"""Generated regions of the docs (docs/subset.md, docs/how-it-works.md): one way to rewrite
them and one command-line shape (`python -m adcompile.X [--check]`), so each generator only
says how the new text is made."""
from __future__ import annotations

import sys
from collections.abc import Callable


def rewrite(path: str, render: Callable[[str], str], check: bool) -> bool:
    """Replace the file's text by `render(text)`; with `check`, only say whether it is
    current. Returns True when the file is (or now is) up to date."""
    with open(path) as fh:
        text = fh.read()
    new = render(text)
    if new == text:
        return True
    if check:
        return False
    with open(path, "w") as fh:
        fh.write(new)
    return True


def main(update: Callable[..., bool], page: str, module: str,
         argv: list[str] | None = None) -> int:
    """`--check`: exit 1 (saying what to run) when `page` is stale; else regenerate it."""
    argv = sys.argv[1:] if argv is None else argv
    if "--check" in argv:
        ok = update(check=True)
        if not ok:
            print(f"{page} is out of date: run python -m {module}")
        return 0 if ok else 1
    update()
    return 0
