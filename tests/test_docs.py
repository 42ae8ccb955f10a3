"""The user documentation stays true: the ```python blocks of the pages in RUNNABLE run (a
page's blocks in order, as one module, on the LLVM backend), every public name has a section
in docs/api.md, and the IR listings of docs/how-it-works.md are what the compiler prints now
(`python -m adcompile.docgen` regenerates them).

A block fenced as ```python no-run is shown, not run (signatures, fragments)."""
from __future__ import annotations

import inspect
import os
import re
import runpy

import pytest

import adcompile
from adcompile import distributed, docgen, solvers

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
RUNNABLE = ("getting-started.md", "how-it-works.md", "performance.md")
_BLOCK = re.compile(r"^```python[ \t]*(\S*)[ \t]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _read(page: str) -> str:
    with open(os.path.join(DOCS, page)) as fh:
        return fh.read()


def python_blocks(text: str) -> list[str]:
    """The runnable python blocks of a page; an unknown fence word is an error, so a typo
    (```python norun) cannot silently skip a block."""
    out = []
    for word, body in _BLOCK.findall(text):
        assert word in ("", "no-run"), f"unknown python block marker {word!r}"
        if word == "":
            out.append(body)
    return out


@pytest.mark.parametrize("page", RUNNABLE)
def test_page_code_runs(page, tmp_path, monkeypatch, capsys):
    blocks = python_blocks(_read(page))
    assert blocks, f"{page} has no runnable python block"
    # adcompile reads source from files: write the page's blocks as one module
    path = tmp_path / (page.replace("-", "_").replace(".md", "") + ".py")
    path.write_text("\n\n".join(blocks))
    monkeypatch.setenv("ADCOMPILE_BACKEND", "llvm")   # numba compiles take seconds each
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(path), run_name="__docs__")


def test_block_extraction_honours_markers():
    text = "```python\na = 1\n```\n```python no-run\nb(\n```\n```bash\nls\n```\n"
    assert python_blocks(text) == ["a = 1\n"]
    with pytest.raises(AssertionError):
        python_blocks("```python norun\nx\n```\n")


def _public(module) -> list[str]:
    """Functions and classes defined in `module` itself whose names are not private."""
    return [n for n, o in vars(module).items() if not n.startswith("_")
            and (inspect.isfunction(o) or inspect.isclass(o))
            and o.__module__ == module.__name__]


def _sections(text: str) -> set[str]:
    return set(re.findall(r"^#{2,4} `([\w.]+)`", text, re.MULTILINE))


def test_every_public_name_has_an_api_section():
    sections = _sections(_read("api.md"))
    want = [f"adcompile.{n}" for n in adcompile.__all__]
    want += [f"adcompile.solvers.{n}" for n in _public(solvers)]
    want += [f"adcompile.distributed.{n}" for n in distributed.__all__]
    assert "adcompile.solvers.least_squares" in want   # the scan itself finds names
    missing = [n for n in want if n not in sections]
    assert not missing, f"docs/api.md has no section for {missing}"


def test_every_cli_option_is_documented():
    from adcompile.cli import _parser
    text = _read("api.md")
    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "cmd")
    for name, p in sub.choices.items():
        assert f"### `adcompile {name}`" in text, name
        for action in p._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}" in text, f"adcompile {name} {flag} is not in docs/api.md"


def test_how_it_works_ir_is_current():
    assert docgen.update(os.path.join(DOCS, "how-it-works.md"), check=True), \
        "docs/how-it-works.md is out of date: run python -m adcompile.docgen"


def test_docgen_regions_are_all_filled():
    text = _read("how-it-works.md")
    names = re.findall(r"<!-- BEGIN GENERATED: ir (\S+) -->\n```\nfunc @", text)
    assert {"frontend", "primal", "jvp:optimized", "grad:vjp", "grad:backend"} <= set(names)
