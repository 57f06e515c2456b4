"""Every command the documentation shows parses with the real argument parser.

The README, the records under ``experiments/`` (``*.md``), the docstrings and messages of
the package and the scripts (each script's docstring shows its own usage) and the comments
of the YAML configs name commands: ``python scripts/NAME.py ...``, ``dtc SUBCOMMAND ...``,
``make TARGET`` and ``scripts/reproduce_paper.sh [JOBS]``. A flag renamed or dropped since
leaves a documented command that fails with a usage error. Each one is taken from the fenced
code blocks, the inline code spans and the literal lines of docstrings and YAML comments,
read as a shell would (continuation lines joined, ``VAR=value`` prefixes, ``.venv/bin/``,
redirections, pipes and ``#`` comments dropped, ``&&``-chained commands taken one by one,
braces and globs expanded against the repository, a glob that matches nothing kept as bash
keeps it), and its arguments are parsed *without running the work*:

* a script: its ``argparse`` parser parses them (abbreviations refused: the docs give
  options in full), then a sentinel raised where ``parse_args`` returns stops the script;
* ``dtc``: click (typer) parses them; ``dtc run``'s own checks of its options run too, up
  to the run, and a CONFIG of the repository is loaded with its ``key=value`` overrides and
  expanded (``dtc report --config`` likewise), as ``dtc run`` does before any run;
* ``make``: each target is one of the Makefile's; ``reproduce_paper.sh``: the script reads
  its JOBS with DTC_DATA unset, and stops at that check.

A usage error fails the test of the document and line that shows the command. Placeholders:
``...`` stands for arguments left out (``--out ...``: a value); ``[--opt v]`` for optional
ones, taken; ``S`` and ``N`` for numbers (:data:`PLACEHOLDERS`); ``<out>``, ``FILE``,
``CONFIG`` are strings and parse as written. An inline span may be a fragment naming a
script or an option (`dtc run --benchmark`): it may lack required arguments and an option's
value, nothing else.

``test_documented_files_exist``: a repository file a command reads (a config, a records
file, a script) exists, and a glob of them matches one at least.
"""

from __future__ import annotations

import argparse
import ast
import glob
import io
import re
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Where the documented commands are read: Markdown, docstrings, YAML comments.
MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "experiments").rglob("*.md"))]
PYTHON = sorted(p for d in ("dtc", "scripts", "baselines") for p in (ROOT / d).rglob("*.py"))
#: The YAML configs: the experiments' and the package's own (``dtc bench-losses``'s protocol).
YAML = sorted(p for d in ("experiments", "dtc") for p in (ROOT / d).rglob("*.yaml"))

#: Placeholders of documented commands that stand for a value of a type the parser checks:
#: replaced by a value of that type (the others, ``FILE``, ``CONFIG``, ``DIR``, are strings
#: and parse as written).
PLACEHOLDERS = {"S": "0", "N": "1"}

#: Commands not checked, each with why: (document, line) -> reason. Keep it short (none now:
#: every documented command parses as written, placeholders read as above).
SKIPPED: dict[tuple[str, int], str] = {}

#: Options whose value is a file or folder the command writes, not one it reads.
OUTPUT_OPTIONS = {"--out", "--save-partitions", "--results", "--fit"}
#: Top folders of the repository whose files a command may read.
REPO_FOLDERS = ("experiments/", "scripts/", "dtc/", "baselines/", "tests/")

_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SCRIPT = re.compile(r"^(?:\./)?scripts/(\w+)\.py$")
_REPRODUCE = re.compile(r"^(?:\./)?scripts/reproduce_paper\.sh$")
_GLOB = re.compile(r"[*?\[]")
# the first word of a command worth a look: a literal line is taken only if it starts so
_START = re.compile(
    r"^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*"
    r"(?:(?:\.venv/bin/)?python3?\s+(?:-\S+\s+)*(?:\./)?scripts/|(?:\./)?scripts/\w+\.(?:py|sh)\b"
    r"|(?:\.venv/bin/)?dtc\b|make\b|(?:bash\s+)?(?:\./)?scripts/reproduce_paper\.sh\b)"
)


@dataclass
class Word:
    text: str
    quoted: bool = False  # a quoted part: no glob or brace expansion, as in a shell


@dataclass
class Command:
    """One documented command: where it is, its text, its program and arguments."""

    doc: str
    line: int
    text: str
    program: str  # "script:<name>", "dtc", "make", "reproduce" ("unreadable:<why>")
    args: list[Word] = field(default_factory=list)
    elided: bool = False  # "..." in it: some arguments left out on purpose
    fragment: bool = False  # an inline span: may name an option without its value


# --------------------------------------------------------------------------- shell words


def _shell_words(text: str) -> list[Word | str]:
    """``text`` split as a shell splits one command line: :class:`Word` s and the operator
    strings (``&&``, ``|``, ``>``, ...); a ``#`` starting a word ends the line; a backslash
    escapes the next character (a backslash-newline joins lines)."""
    out: list[Word | str] = []
    word: Word | None = None
    i, n = 0, len(text)

    def flush():
        nonlocal word
        if word is not None:
            out.append(word)
            word = None

    while i < n:
        c = text[i]
        if c in " \t\n":
            flush()
            i += 1
        elif c == "#" and word is None:
            break
        elif c == "\\":
            if i + 1 < n and text[i + 1] != "\n":
                word = word or Word("")
                word.text += text[i + 1]
            i += 2
        elif c in "'\"":
            j = text.find(c, i + 1)
            if j < 0:
                raise ValueError(f"unclosed quote in {text!r}")
            word = word or Word("")
            part = text[i + 1 : j]
            word.text += part.replace('\\"', '"') if c == '"' else part
            word.quoted = True
            i = j + 1
        elif c == "$" and text.startswith("$(", i):
            depth, j = 0, i + 1  # a command substitution: one argument, as written
            while j < n:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                if depth == 0:
                    break
                j += 1
            word = word or Word("")
            word.text += text[i : j + 1]
            word.quoted = True
            i = j + 1
        elif c == "<" and (m := re.compile(r"<[A-Za-z][\w-]*>").match(text, i)):
            word = word or Word("")  # "<out>/results.jsonl": a placeholder, no redirection
            word.text += m.group(0)
            i = m.end()
        elif c in "|&;<>":
            if c in "<>" and word is not None and word.text.isdigit() and not word.quoted:
                word = None  # the descriptor of "2>" or "2>&1"
            flush()
            for op in ("&&", "||", ">>", "&>", ">&", "|", "&", ";", ">", "<"):
                if text.startswith(op, i):
                    out.append(op)
                    i += len(op)
                    break
        else:
            word = word or Word("")
            word.text += c
            i += 1
    flush()
    return out


def _braces(text: str) -> list[str]:
    """A shell's brace expansion of ``text`` (``a{1,2}b`` -> ``a1b a2b``; nested braces and
    ranges are not used in the docs)."""
    m = re.search(r"\{([^{}]*,[^{}]*)\}", text)
    if not m:
        return [text]
    return [
        expanded
        for part in m.group(1).split(",")
        for expanded in _braces(text[: m.start()] + part + text[m.end() :])
    ]


def _expand(word: Word) -> list[str]:
    """The arguments ``word`` gives: braces, then globs against the repository root (a glob
    that matches nothing is kept as written, as bash keeps it)."""
    if word.quoted:
        return [word.text]
    result = []
    for text in _braces(word.text):
        matches = sorted(glob.glob(text, root_dir=ROOT)) if _GLOB.search(text) else []
        result.extend(matches or [text])
    return result


def _commands(doc: str, line: int, text: str, fragment: bool = False) -> list[Command]:
    """The commands of one documented line: one per ``&&``/``;``/``|``-separated part that
    runs a script, ``dtc``, ``make`` or reproduce_paper.sh (the others are not ours)."""
    try:
        words = _shell_words(text)
    except ValueError as exc:
        if _START.match(text.strip()):  # a command a shell could not read either
            return [Command(doc, line, text.strip(), f"unreadable:{exc}", fragment=fragment)]
        return []  # prose with an apostrophe inside a code span is no command
    parts: list[list[Word]] = [[]]
    skip_next = False
    for w in words:
        if isinstance(w, str):
            if w in ("&&", "||", "|", "&", ";"):
                parts.append([])
            else:  # a redirection: its target is not an argument
                skip_next = True
            continue
        if skip_next:
            skip_next = False
            continue
        parts[-1].append(w)
    found = []
    for part in parts:
        while part and not part[0].quoted and _ENV.match(part[0].text):
            part = part[1:]  # DTC_DATA=... before the command
        while part and part[0].text in ("time", "env", "nohup", "exec"):
            part = part[1:]
        if not part:
            continue
        head = part[0].text.removeprefix(".venv/bin/")
        rest = part[1:]
        program = None
        if re.fullmatch(r"python3?", head):
            while rest and rest[0].text.startswith("-") and rest[0].text != "-m":
                rest = rest[1:]  # the interpreter's own options (-u, -OO)
            if len(rest) >= 2 and rest[0].text == "-m" and rest[1].text in ("dtc", "dtc.cli"):
                program, rest = "dtc", rest[2:]
            elif rest and (m := _SCRIPT.match(rest[0].text)):
                program, rest = f"script:{m.group(1)}", rest[1:]
        elif head in ("bash", "sh") and rest and _REPRODUCE.match(rest[0].text):
            program, rest = "reproduce", rest[1:]
        elif _REPRODUCE.match(head):
            program = "reproduce"
        elif m := _SCRIPT.match(head):
            program = f"script:{m.group(1)}"
        elif (m := re.fullmatch(r"(\w+)\.py", head)) and (ROOT / "scripts" / head).is_file():
            program = f"script:{m.group(1)}"  # a script named without its folder
        elif head in ("dtc", "make"):
            program = head
        if program is None or (program == "dtc" and not rest):
            continue  # not ours, or `dtc` the package's (or program's) name
        command = Command(doc, line, text.strip(), program, fragment=fragment)
        for w in rest:
            if w.text == "..." and not w.quoted:
                command.elided = True
                previous = command.args[-1].text if command.args else ""
                if not (previous.startswith("-") and "=" not in previous):
                    continue  # "dtc report ...": arguments left out
                w = Word("...", quoted=True)  # "--out ...": a value left out, still a value
            if not w.quoted and w.text.startswith("[") and w.text.endswith("]"):
                w = Word(w.text[1:-1])  # "[--epochs 20]" in a usage line: optional
            elif not w.quoted and w.text.startswith("["):
                w = Word(w.text[1:])
            elif not w.quoted and w.text.endswith("]") and "[" not in w.text:
                w = Word(w.text[:-1])
            if not w.quoted and w.text in PLACEHOLDERS:
                w = Word(PLACEHOLDERS[w.text], quoted=True)
            command.args.append(w)
        if program == "dtc" and not command.args:
            continue  # `dtc ...`: the program's name, its arguments left out
        found.append(command)
    return found


# --------------------------------------------------------------------------- the documents


def _logical_lines(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """``(line number, text)`` with lines ending in a backslash joined to the next."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, text in lines:
        if pending is not None:
            number, text = pending[0], pending[1] + " " + text.strip()
        if text.rstrip().endswith("\\"):
            pending = (number, text.rstrip()[:-1])
            continue
        pending = None
        out.append((number, text))
    if pending is not None:
        out.append(pending)
    return out


_SPAN = re.compile(r"(`+)((?:(?!\n[ \t]*\n).)+?)\1", re.S)


def _spans(text: str, first_line: int) -> list[tuple[int, str, bool]]:
    """The inline code spans of ``text`` (single or double backticks, over line ends but
    not over a blank line), with the number of the line each starts on; each a fragment."""
    return [
        (first_line + text.count("\n", 0, m.start()), " ".join(m.group(2).split()), True)
        for m in _SPAN.finditer(text)
    ]


def _from_markdown(path: Path) -> list[tuple[int, str, bool]]:
    found: list[tuple[int, str, bool]] = []
    prose: list[str] = []  # the lines outside code blocks (blocks blanked), for the spans
    block: list[tuple[int, str]] | None = None  # the lines of the code block we are in
    fence, shell = "", False
    for number, text in enumerate(path.read_text().splitlines(), 1):
        stripped = text.strip()
        if block is None and (m := re.match(r"(```+|~~~+)\s*(\w*)", stripped)):
            fence, block = m.group(1), []
            shell = m.group(2) in ("", "bash", "sh", "shell", "console", "text")
            prose.append("")
        elif block is not None and stripped.startswith(fence) and not stripped.strip("`~"):
            if shell:  # each (joined) line a command
                found.extend(
                    (n, t.removeprefix("$ "), False) for n, t in _logical_lines(block) if t.strip()
                )
            block = None
            prose.append("")
        elif block is not None:
            block.append((number, stripped))
            # a python or yaml block's comments may show one (`dtc run --data ...`): a span
            comment = None if shell else re.search(r"(?:^|\s)#(.*)$", text)
            prose.append(comment.group(1) if comment else "")
        else:
            prose.append(text)
    return found + _spans("\n".join(prose), 1)


def _strings(path: Path) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """``(docstrings, other strings)`` of ``path``: ``(line of its first line, text)``. The
    other strings are the help, epilog and messages the user reads (f-strings left out)."""
    tree = ast.parse(path.read_text())
    docstrings, others = [], []
    seen = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            seen.update(id(v) for v in ast.walk(node))
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                docstrings.append((first.value.lineno, first.value.value))
                seen.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in seen:
            others.append((node.lineno, node.value))
    return docstrings, others


def _from_python(path: Path) -> list[tuple[int, str, bool]]:
    found = []
    docstrings, others = _strings(path)
    for start, text in others:
        found.extend(_spans(text, start))
    for start, doc in docstrings:
        found.extend(_spans(doc, start))
        # literal lines: indented (a "::" block, an example) and starting with a command
        lines = [(start + i, t) for i, t in enumerate(doc.split("\n"))]
        base = min(
            (len(t) - len(t.lstrip()) for _, t in lines[1:] if t.strip()),
            default=0,
        )
        literal = [
            (n, t)
            for n, t in _logical_lines(lines)
            if len(t) - len(t.lstrip()) > base and _START.match(t.strip())
        ]
        found.extend((n, t.strip(), False) for n, t in literal)
    return found


def _from_yaml(path: Path) -> list[tuple[int, str, bool]]:
    comments = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        m = re.search(r"(?:^|\s)#(.*)$", text)
        if m:
            comments.append((number, m.group(1)))
    found = _spans("\n".join(t for _, t in comments), 0)
    found = [(comments[i][0], t, f) for i, t, f in found]  # span index -> file line
    for number, text in _logical_lines(comments):
        text = re.sub(r"`[^`]*`", "", text)  # the spans are taken above
        # a command in a comment's prose: from its first word to the line's end
        m = re.search(r"(?:^|\s)((?:\.venv/bin/)?dtc\s+\w|python3?\s+scripts/|make\s+\w)", text)
        if m:
            found.append((number, text[m.start(1) :], False))
    return found


def _documented() -> dict[tuple[str, int], list[Command]]:
    sources = (
        [(p, _from_markdown) for p in MARKDOWN]
        + [(p, _from_python) for p in PYTHON]
        + [(p, _from_yaml) for p in YAML]
    )
    found: dict[tuple[str, int], list[Command]] = {}
    for path, read in sources:
        doc = str(path.relative_to(ROOT))
        for line, text, fragment in read(path):
            for command in _commands(doc, line, text, fragment):
                found.setdefault((doc, line), []).append(command)
    return found


DOCUMENTED = _documented()
PLACES = sorted(DOCUMENTED)


# --------------------------------------------------------------------------- the parsers


class _Parsed(Exception):
    """Raised where the parser returned: the arguments parsed, nothing ran."""


_SCRIPTS: dict[str, object] = {}
_CONFIGS: dict[tuple[str, tuple[str, ...]], str | None] = {}  # (config, overrides) -> error
_MISSING = re.compile(r"the following arguments are required|Missing (argument|option|parameter)")
#: What an inline fragment (`dtc run --benchmark`, naming an option) may lack too: a value.
_NO_VALUE = re.compile(r"expected one argument|expected at least one argument|requires an argument")


def _tolerated(command: Command, message: str) -> bool:
    """A usage error that a command with arguments left out on purpose may give."""
    return (command.fragment and bool(_NO_VALUE.search(message))) or (
        (command.elided or command.fragment) and bool(_MISSING.search(message))
    )


def _check_script(command: Command, load_script, monkeypatch) -> str | None:
    """``None`` when ``command``'s arguments parse with its script's parser, else the error."""
    name = command.program.split(":", 1)[1]
    if not (ROOT / "scripts" / f"{name}.py").is_file():
        return f"scripts/{name}.py does not exist"
    if name not in _SCRIPTS:
        _SCRIPTS[name] = load_script(name)
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        # the docs give options in full: an abbreviation argparse would take ("--k-crit")
        # is most often a name since lengthened ("--k-criterion"), read as its prefix
        self.allow_abbrev = False
        raise _Parsed(original(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.setattr(sys, "argv", [f"{name}.py"])  # argparse's prog in its messages
    argv = [a for w in command.args for a in _expand(w)]
    err = io.StringIO()
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(err):
            _SCRIPTS[name].main(argv)
    except _Parsed:
        return None
    except SystemExit as exc:
        if exc.code == 0:  # --help
            return None
        message = err.getvalue().strip().splitlines()[-1:] or [f"exit {exc.code}"]
        if _tolerated(command, message[0]):
            return None
        return message[0]
    finally:
        monkeypatch.setattr(argparse.ArgumentParser, "parse_args", original)
    return "main() returned without parsing its arguments"


def _usage_error() -> type:
    """click's ``UsageError``, the base of every parse error of ``dtc``, found through typer's
    public ``BadParameter`` (its subclass): typer up to 0.2x re-exports click's, later ones
    vendor click in a private ``typer._click`` (an import of either failed under the other)."""
    import typer

    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def _check_dtc(command: Command, monkeypatch) -> str | None:
    """``None`` when ``command``'s arguments parse with ``dtc``'s parser, else the error.
    ``dtc run``'s own checks of its options (those of single runs refused with a CONFIG, and
    the other way round) are run too, up to the run; a CONFIG of the repository is loaded
    with its ``key=value`` overrides (``dtc report --config`` too) and expanded, as ``dtc
    run`` does before any run."""
    import typer.core
    from typer.main import get_command

    import dtc.cli
    from dtc.experiment.config import expand, load_config

    UsageError = _usage_error()
    invoke = typer.core.TyperCommand.invoke

    def stop(self, ctx):
        if ctx.command.name == "run":  # its body checks, then calls one of the two below
            return invoke(self, ctx)
        raise _Parsed(ctx.params)

    def run_config(args, *_):
        raise _Parsed({"config": args[0], "overrides": args[1:]})

    def run_one(benchmark, source, target, method, seed, set_, data_set, *_):
        raise _Parsed({"single": (benchmark, source, target, method, set_, data_set)})

    monkeypatch.setattr(typer.core.TyperCommand, "invoke", stop)
    monkeypatch.setattr(dtc.cli, "_run_config", run_config)
    monkeypatch.setattr(dtc.cli, "_run_one", run_one)
    argv = [a for w in command.args for a in _expand(w)]
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            get_command(dtc.cli.app).main(argv, prog_name="dtc", standalone_mode=False)
    except _Parsed as parsed:
        (params,) = parsed.args
        if "single" in params:
            return _check_single_run(command, *params["single"])
        config = params.get("config")
        if config is None or not (ROOT / config).is_file():
            return None  # no config, or one the files' test names
        key = (str(config), tuple(params.get("overrides") or ()))
        if key not in _CONFIGS:  # a paper table takes seconds to expand: once each
            try:
                expand(load_config(ROOT / config, list(key[1]) or None))
                _CONFIGS[key] = None
            except ValueError as exc:
                _CONFIGS[key] = f"{config} with {list(key[1])}: {exc}"
        return _CONFIGS[key]
    except UsageError as exc:
        message = exc.format_message() or f"{type(exc).__name__} (no message)"
        if _tolerated(command, message):
            return None
        return message
    return None if "--help" in argv else "dtc returned without parsing its arguments"


def _check_single_run(command: Command, benchmark, source, target, method, set_, data_set):
    """What a single ``dtc run`` checks before its fit, by its own checks: the ``--set``
    keys (the method's parameters, no seed) and the ``--data`` ones (the benchmark's); and
    that the benchmark, its domains and the method exist (a placeholder, ``NAME``, a user's
    ``module:Class`` or, in an inline fragment, a folder of the user's, left out)."""
    from dtc import data, methods
    from dtc.cli import _check_set_names, parse_assignments
    from dtc.experiment.config import check_run_data
    from dtc.experiment.single import check_not_seed, default_method

    UsageError = _usage_error()
    method = method or default_method()
    try:
        params = parse_assignments(set_)
        for key in params:
            check_not_seed(key, "--set", "give it with --seed instead")
        if ":" not in method and not method.isupper():
            methods.get_class(method)
        _check_set_names(method, params)
        check_run_data(benchmark, parse_assignments(data_set, option="--data"))
        if not command.fragment:
            domains = data.benchmark_info(benchmark)["domains"]
            for option, domain in (("--source", source), ("--target", target)):
                if domain is not None and domain not in domains:
                    return f"{option} {domain!r}: no domain of {benchmark!r} ({domains})"
    except (ValueError, ImportError, UsageError) as exc:
        return exc.format_message() if isinstance(exc, UsageError) else str(exc)
    return None


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, flags=re.M))


def _check_make(command: Command) -> str | None:
    targets = _make_targets()
    for w in command.args:
        if _ENV.match(w.text) or w.text.startswith("-"):
            continue  # a variable (PYTHON=python3.11) or an option
        if w.text not in targets:
            return f"no target {w.text!r} in the Makefile (it has {sorted(targets)})"
    return None


def _check_reproduce(command: Command) -> str | None:
    # the script reads its JOBS before anything else: with DTC_DATA unset, a JOBS it takes
    # reaches the DTC_DATA check (exit 2, "set DTC_DATA"), nothing runs
    env = {"PATH": "/usr/bin:/bin"}
    argv = [a for w in command.args for a in _expand(w)]
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "reproduce_paper.sh"), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    if done.returncode == 0 and argv and argv[0] in ("-h", "--help"):
        return None
    if done.returncode == 2 and "set DTC_DATA" in done.stderr:
        return None
    return done.stderr.strip() or f"exit {done.returncode}"


# --------------------------------------------------------------------------- the tests


def test_the_documents_show_commands_of_every_kind():
    """The extractor finds what the docs show (an extractor that found nothing would pass)."""
    programs = {c.program for cs in DOCUMENTED.values() for c in cs}
    assert {"dtc", "make", "reproduce"} <= programs
    scripts = {p for p in programs if p.startswith("script:")}
    assert len(scripts) >= 20, sorted(scripts)
    docs = {doc for doc, _ in DOCUMENTED}
    assert {"README.md", "experiments/negative_transfer_record.md"} <= docs
    assert any(d.startswith("scripts/") for d in docs) and any(d.endswith(".yaml") for d in docs)
    assert "dtc/experiment/bench_losses.yaml" in docs  # a config outside experiments/ too
    assert len(PLACES) > 150


def test_the_shell_reading_of_a_documented_line():
    # hand-read: env prefix, .venv/bin/, a comment, a redirection with its descriptor, a
    # pipe, a chain, quotes, a glob of the records and a brace pattern
    (substituted,) = _commands(
        "x", 1, "scripts/learned_guard.py --issue-kinds $(ls a/*.jsonl | grep -v b) --fit c.json"
    )
    assert [w.text for w in substituted.args] == [
        "--issue-kinds",
        "$(ls a/*.jsonl | grep -v b)",
        "--fit",
        "c.json",
    ]
    (placeholder,) = _commands("x", 1, "dtc run --results <out>/results.jsonl", fragment=True)
    assert [w.text for w in placeholder.args] == ["run", "--results", "<out>/results.jsonl"]
    (first, second) = _commands(
        "x",
        1,
        "DTC_DATA=../d .venv/bin/python scripts/negative_transfer.py --cases 'a->b' "
        "--summary experiments/records/harness_s[0-1].jsonl > o.jsonl 2>&1 | tail -1 "
        "&& dtc report results/t{1,2} --out r  # a comment --bad",
    )
    assert first.program == "script:negative_transfer"
    assert [a for w in first.args for a in _expand(w)] == [
        "--cases",
        "a->b",
        "--summary",
        "experiments/records/harness_s0.jsonl",
        "experiments/records/harness_s1.jsonl",
    ]
    assert second.program == "dtc"
    assert [a for w in second.args for a in _expand(w)] == [
        "report",
        "results/t1",
        "results/t2",
        "--out",
        "r",
    ]


def _check(command: Command, load_script, monkeypatch) -> str | None:
    if command.program.startswith("script:"):
        return _check_script(command, load_script, monkeypatch)
    if command.program == "dtc":
        return _check_dtc(command, monkeypatch)
    if command.program == "make":
        return _check_make(command)
    if command.program.startswith("unreadable:"):
        return command.program
    return _check_reproduce(command)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("python scripts/negative_transfer.py --fresh10 --seedz 4", "unrecognized arguments"),
        ("python scripts/model_selection.py --k-crit knn_agreement", "unrecognized arguments"),
        ("python scripts/negative_transfer.py --seed x", "argument --seed"),
        ("python scripts/checkpoint_outcomes.py --seed 1", "required: case"),
        ("python scripts/no_such_script.py", "does not exist"),
        ("dtc run --benchmarkz digits", "No such option: --benchmarkz"),
        ("dtc run experiments/smoke.yaml --jobs two", "'--jobs'"),
        ("dtc run experiments/smoke.yaml --seed 3", "--seed applies to single runs"),
        ("dtc run experiments/smoke.yaml methods.NOPE.lam=0.5", "unknown method label 'NOPE'"),
        ("dtc report r --config experiments/smoke.yaml seedz=1", "unknown key 'seedz'"),
        ("dtc report", "Missing argument"),
        ("dtc run --method dtc --set use_source_label=false", "has no parameter"),
        ("dtc run --data imbalance_ration=10", "imbalance_ration"),
        ("dtc run --method kmeanz", "kmeanz"),
        ("dtc run --benchmark coil20 --source coil3", "--source 'coil3'"),
        ("dtc nonesuch", "No such command"),
        ("make venvv", "no target 'venvv'"),
        ("scripts/reproduce_paper.sh 0", "JOBS: expected one number"),
        ("python scripts/negative_transfer.py --cases 'a->b", "unreadable:unclosed quote"),
    ],
)
def test_the_checks_refuse_what_a_stale_command_gives(text, error, load_script, monkeypatch):
    # each a flag renamed, a value of the wrong type, a missing argument, a CONFIG's bad
    # override: the check names the error (one that passed everything would pass the docs)
    (command,) = _commands("x.md", 1, text)
    assert error in (_check(command, load_script, monkeypatch) or "")


@pytest.mark.parametrize("place", PLACES, ids=[f"{d}:{n}" for d, n in PLACES])
def test_documented_command_parses(place, load_script, monkeypatch):
    if place in SKIPPED:
        pytest.skip(SKIPPED[place])
    failures = []
    for command in DOCUMENTED[place]:
        error = _check(command, load_script, monkeypatch)
        if error:
            failures.append(f"{command.doc}:{command.line}: `{command.text}`: {error}")
    assert not failures, "\n".join(failures)


def _read_files(command: Command) -> list[str]:
    """The repository files ``command`` names as arguments it reads (the values of
    :data:`OUTPUT_OPTIONS` left out), globs as written."""
    files = []
    words = command.args
    for i, w in enumerate(words):
        text = w.text
        if "=" in text and text.startswith("--"):
            option, text = text.split("=", 1)
            if option in OUTPUT_OPTIONS:
                continue
        elif i and words[i - 1].text in OUTPUT_OPTIONS:
            continue
        if text.startswith(REPO_FOLDERS):
            files.extend(_braces(text) if not w.quoted else [text])
    if command.program.startswith("script:"):
        files.append(f"scripts/{command.program.split(':', 1)[1]}.py")
    return files


#: A capital letter standing for a number in a file name (``tableN.yaml``, ``f8_sS.jsonl``):
#: any name that has something there is the file meant.
_NAME_PLACEHOLDER = re.compile(r"(?<=[a-z_])[A-Z](?=[._/]|$)")


def _exists(name: str) -> bool:
    """A file or folder of the repository, or a glob (placeholders as globs) matching one."""
    return (ROOT / name).exists() or bool(
        glob.glob(_NAME_PLACEHOLDER.sub("*", name), root_dir=ROOT)
    )


def test_the_files_a_command_reads():
    # the config and the records glob are read; --out's folder is written; results/ is
    # the output of an earlier command, not a file of the repository
    config, script = _commands(
        "x.md",
        1,
        "dtc run experiments/nope.yaml --out experiments/new && "
        "python scripts/seeds_per_case.py experiments/records/no_s*.jsonl results/r.jsonl",
    )
    assert _read_files(config) == ["experiments/nope.yaml"]
    assert _read_files(script) == ["experiments/records/no_s*.jsonl", "scripts/seeds_per_case.py"]
    assert not _exists("experiments/nope.yaml") and not _exists("experiments/records/no_s*.jsonl")
    assert _exists("experiments/paper/tableN.yaml") and _exists("experiments/records/harness_s*")


def test_documented_files_exist():
    # one test for all: each missing file named with the document, line and command
    missing = [
        f"{c.doc}:{c.line}: `{c.text}`: {name}"
        for place, commands in DOCUMENTED.items()
        if place not in SKIPPED
        for c in commands
        for name in _read_files(c)
        if not _exists(name)
    ]
    assert not missing, "\n".join(missing)


if __name__ == "__main__":  # the commands found, for a look: python tests/...py
    for (doc, line), commands in DOCUMENTED.items():
        for c in commands:
            print(
                f"{doc}:{line}: [{c.program}] {' '.join(w.text for w in c.args)}", file=sys.stdout
            )
