"""Output files and folders: atomic writes with normal permissions, and one writer per folder.

Every file eoscheck writes goes through :func:`atomic_write`: the bytes go to a temporary file in
the same folder, which is flushed, given the permissions a plain ``open()`` would give
(``0o666 & ~umask``, i.e. 0644 under umask 022; ``mkstemp`` alone gives 0600) and renamed over
the target. A reader, or a run killed at any moment, sees the previous complete file or the new
one, never half of one. Temporary files are named ``.<name>.eoscheck-tmp-<random>`` so that the
next writer of the folder can remove the ones a killed run left (:func:`remove_stale_temporaries`).

:class:`OutputLock` makes one process the writer of a folder: an advisory ``flock`` on
``DIR/.eoscheck.lock``. The kernel drops the lock when its holder dies, so a killed run never
leaves a stale lock; a second live writer gets a one-line :class:`EoscheckError`.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Callable, Iterable, Mapping

from ._errors import EoscheckError

TMP_MARK = ".eoscheck-tmp-"
LOCK_NAME = ".eoscheck.lock"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_mode() -> int:
    """Permissions of a newly created regular file under the current umask (0644 under 022)."""
    return 0o666 & ~_umask()


def atomic_write(path: str | Path, data: bytes | str | Callable[[IO[bytes]], object]) -> Path:
    """Write ``data`` (bytes, text, or a function that writes to a binary file) to ``path`` atomically.

    The folder is created if needed. On any error, the temporary file is removed and the previous
    ``path`` (if any) is left untouched.
    """
    path = Path(path)
    tmp = _staged(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        _discard([tmp])
        raise
    return path


def write_set(folder: str | Path, files: Mapping[str, bytes | str], marker: str, obsolete: Iterable[str] = ()) -> Path:
    """Write ``files`` (name → data) into ``folder`` as one set, ``marker`` among them: the file that says the set
    is complete (``run.json``).  Every file is first written in full beside its target; only then is the old
    ``marker`` removed, the others renamed over theirs, the ``obsolete`` files (an earlier set's that this one does
    not replace) removed, and ``marker`` renamed last.  So a full disk or any error while writing leaves the
    previous set as it was (its temporaries removed), and a run killed during the renames leaves no ``marker``."""
    d = Path(folder)
    staged: dict[str, Path] = {}
    try:
        for name, data in files.items():
            staged[name] = _staged(d / name, data)
    except BaseException:
        _discard(staged.values())
        raise
    (d / marker).unlink(missing_ok=True)
    for name, tmp in staged.items():
        if name != marker:
            os.replace(tmp, d / name)
    for name in obsolete:
        if name not in files:
            (d / name).unlink(missing_ok=True)
    os.replace(staged[marker], d / marker)
    return d


def _staged(path: Path, data: bytes | str | Callable[[IO[bytes]], object]) -> Path:
    """``data`` written in full (flushed, synced, with :func:`default_mode`) to a temporary beside ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{TMP_MARK}")
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, default_mode())
    except BaseException as err:
        _discard([Path(tmp)])
        if isinstance(err, OSError) and err.filename is None:       # a full disk names no file: name the target
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise
    return Path(tmp)


def _discard(paths: Iterable[Path]) -> None:
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


#: How deep under an output folder its writers put files (report: data/<section>/; sweep: tasks/).
OUTPUT_DEPTH = 3


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete temporary files a killed writer left in ``folder`` and its subfolders up to :data:`OUTPUT_DEPTH`
    (call it while holding the lock), never inside a subfolder that is another writer's (it holds its own
    lock file: ``--out .`` above a run being written)."""
    n = 0
    root = Path(folder)
    if not root.is_dir():
        return 0
    for here, dirs, files in os.walk(root):
        depth = len(Path(here).relative_to(root).parts)
        dirs[:] = [] if depth >= OUTPUT_DEPTH else [d for d in dirs if not (Path(here, d) / LOCK_NAME).exists()]
        for name in files:
            if TMP_MARK in name:
                try:
                    os.unlink(os.path.join(here, name))
                    n += 1
                except OSError:
                    pass
    return n


def check_output_dir(path: str | Path, what: str = "--out") -> Path:
    """Validate an output folder *before* any computation: it must be a folder or creatable.

    Raises a one-line :class:`EoscheckError` for an existing file, a path under a file, or a
    folder that cannot be written.
    """
    if not str(path).strip():
        raise EoscheckError(f"{what}: an empty path; give a folder (\".\" for the current one)")
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise EoscheckError(f"{what} {path}: is an existing file, not a folder; give a folder path")
    probe = p
    while not probe.exists():
        parent = probe.parent
        if parent == probe:
            break
        probe = parent
    if probe.exists() and not probe.is_dir():
        raise EoscheckError(f"{what} {path}: {probe} is a file, so the folder cannot be created; "
                            "choose another path")
    if not os.access(probe, os.W_OK | os.X_OK) or not _can_create_in(probe):
        raise EoscheckError(f"{what} {path}: {probe} is not writable; choose a folder you can write to")
    return p


def not_ours(folder: str | Path, names: list[str], writer: str, replaces: str, what: str = "--out") -> EoscheckError:
    """The one-line refusal of a folder holding files ``names`` that a ``writer`` (run, sweep, report) did
    not write but would replace (``replaces``: what it writes there)."""
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return EoscheckError(f"{what} {folder}: holds {shown}, which a {writer} did not write; a {writer} replaces "
                         f"{replaces}, so give a new or empty folder, or an earlier {writer}'s")


def witness_folder(path: str | Path, default: str | Path, what: str) -> Path:
    """Where witnesses go, checked before any search.  A folder the user gave must be writable (else one-line
    error); the default (``reports/counterexamples``, relative to the working directory) falls back to a
    fresh folder under the system's temporary directory, said on stderr, so a witness is never lost."""
    import sys

    if str(path) != str(default):
        return check_output_dir(path, what)
    try:
        return check_output_dir(path, what)
    except EoscheckError:
        # one fixed folder (created only when a witness is written), not a new one per run
        tmp = check_output_dir(Path(tempfile.gettempdir()) / "eoscheck-counterexamples", what)
        print(f"note: {path} cannot be written here; witnesses go to {tmp}", file=sys.stderr)
        return tmp


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder``, by creating an unnamed one (``O_TMPFILE`` where
    the system has it: nothing appears in the folder).  ``os.access`` alone says yes to root for
    /sys or /proc, where every write then fails."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


#: The ``format`` of the JSON reports ``check``, ``conjecture`` and ``replay`` write with ``-o``.
REPORT_FORMAT = "eoscheck-report/1"
#: Keys that tell those reports apart when written before they carried :data:`REPORT_FORMAT`.
_OLDER_REPORT_KEYS = ({"claims", "profile"}, {"conjecture", "effort"}, {"reproduced", "identical"})
#: An existing file larger than this is not read to decide whether it is a report.
_REPORT_MAX_BYTES = 256 * 2**20


def check_output_file(path: str | Path, what: str = "-o", report: bool = False) -> Path:
    """Validate an output file *before* any computation: not an existing folder, and its folder a
    folder or creatable (:func:`check_output_dir`).  With ``report``, an existing file is replaced only
    when it is empty or an eoscheck report (:data:`REPORT_FORMAT`, or an older one by its keys) — never a
    saved counterexample (``replay W -o W`` overwrote the witness it replayed), a run's ``run.json``, a
    file eoscheck did not write, or something that is not a regular file.  One-line :class:`EoscheckError`
    otherwise."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise EoscheckError(f"{what} {path}: is a folder; give a file path, e.g. {Path(path) / 'result.json'}")
    check_output_dir(p.parent if str(p.parent) else Path("."), what)
    if report and p.exists():
        why = _not_a_report(p)
        if why:
            raise EoscheckError(f"{what} {path}: {why}; give another file name (or remove it yourself)")
    return p


def _not_a_report(p: Path) -> str | None:
    """Why the existing ``p`` must not be replaced by a report, or None."""
    if not p.is_file():
        return "exists and is not a regular file"
    size = p.stat().st_size
    if size == 0:
        return None                 # e.g. `mktemp`'s
    old = None
    if size <= _REPORT_MAX_BYTES:
        try:
            old = json.loads(p.read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            pass
    if isinstance(old, dict):
        fmt = str(old.get("format", ""))
        if fmt.startswith("eoscheck-counterexample"):
            return "the file is a saved counterexample, which a report would overwrite"
        if fmt == REPORT_FORMAT or ("provenance" in old and "config" not in old
                                    and any(keys <= old.keys() for keys in _OLDER_REPORT_KEYS)):
            return None
    return "the file exists and is not an eoscheck report"


class OutputLock:
    """One writer per output folder (context manager).

    >>> with OutputLock("runs/toy"):          # doctest: +SKIP
    ...     write_the_files()
    """

    def __init__(self, folder: str | Path, what: str = "--out"):
        self.folder = Path(folder)
        self.what = what
        self._fd: int | None = None

    def __enter__(self) -> "OutputLock":
        import fcntl

        check_output_dir(self.folder, self.what)
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, default_mode())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise EoscheckError(f"{self.what} {self.folder}: another eoscheck process is writing there; "
                                "wait for it or choose another folder") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        remove_stale_temporaries(self.folder)
        return self

    def __exit__(self, *exc) -> None:
        import fcntl

        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
