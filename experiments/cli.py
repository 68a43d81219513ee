"""What experiments.main and experiments.sweep share on the command line: errors as one line.

Every error an entry point can meet ends the process with one ``error: ...`` line on stderr
and exit status 1 (2 for bad flags): a missing config file, an unknown ``--config.FIELD`` (the
line names the closest valid fields), a bad value, a workdir that is a file or cannot be
written, a full disk, a workdir in use by another process, a resume with another config.
"""

from __future__ import annotations

import contextlib
import errno
import logging as std_logging
import os
import pathlib
import re
import sys
from collections.abc import Iterator

from absl import flags
from absl import logging as absl_logging

from experiments import run


def fail(message: str, status: int = 1):
    """Print ``error: message`` (its first line) to stderr and exit with ``status``."""
    lines = [x for x in str(message).strip().splitlines() if x.strip()]
    print(f"error: {lines[0] if lines else message}", file=sys.stderr)
    sys.exit(status)


def _config_ref(argv: list[str]) -> str | None:
    ref = None
    for i, a in enumerate(argv):
        if a.startswith("--config="):
            ref = a.split("=", 1)[1]
        elif a == "--config" and i + 1 < len(argv):
            ref = argv[i + 1]
    return ref


def _override_keys(argv: list[str]) -> list[str]:
    return [a[len("--config."):].split("=", 1)[0] for a in argv if a.startswith("--config.")]


def flag_problem(argv: list[str]) -> str | None:
    """The first problem of the ``--config`` flags that config_flags would raise a traceback
    for (a missing file, a bad variant, an unknown field), as one line; None if none."""
    ref = _config_ref(argv)
    if ref is None:
        return None
    path = ref.split(":", 1)[0]
    if not pathlib.Path(path).is_file():
        return (f"--config={ref}: no file {path} (relative to {os.getcwd()}); give e.g. "
                "--config=configs/vae.py:quick")
    try:
        config = run.load_config(ref)
    except Exception as e:  # noqa: BLE001 -- a config file's own error, shown as its line
        return f"--config={ref}: {type(e).__name__}: {_last_line(e)}"
    for key in _override_keys(argv):
        problem = run.field_problem(config, key)
        if problem:
            return f"--config.{key}: {problem}"
    return None


def _last_line(e: BaseException) -> str:
    lines = [x.strip() for x in str(e).strip().splitlines() if x.strip()]
    return lines[-1] if lines else repr(e)


def parse_flags(argv: list[str]) -> list[str]:
    """``app.run(main, flags_parser=parse_flags)``: absl's parsing, its errors as one line."""
    problem = flag_problem(argv)
    if problem:
        fail(problem, status=2)
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        fail(f"{_last_line(e)} (see --helpshort)", status=2)
    except Exception as e:  # noqa: BLE001 -- config_flags raises bare errors on bad overrides
        fail(f"{type(e).__name__}: {_last_line(e)}", status=2)


def check_workdir(workdir: str | None) -> None:
    """Refuse a ``--workdir`` that exists and is not a folder."""
    if workdir and os.path.exists(workdir) and not os.path.isdir(workdir):
        fail(f"--workdir={workdir} is a file, not a folder; give a folder (it is created).")


_SPACE = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
          errno.EFBIG: "a file grew past the file size limit"}
_ACCESS = {errno.EROFS: "the filesystem is read-only", errno.EACCES: "permission denied",
           errno.EPERM: "operation not permitted"}


def _disk_message(e: OSError) -> str:
    where = f" ({e.filename})" if e.filename else ""
    if e.errno in _SPACE:
        return (f"cannot write the run's files{where}: {_SPACE[e.errno]} [errno {e.errno}]; "
                "free space, then rerun the same command (it resumes from the last checkpoint).")
    if e.errno in _ACCESS:
        return (f"cannot write the run's files{where}: {_ACCESS[e.errno]} [errno {e.errno}]; "
                "make the workdir writable or use another --workdir.")
    return f"cannot use the workdir{where}: {e.strerror or e} [errno {e.errno}]."


def _os_error(message: str) -> OSError | None:
    """The OSError in a C++ (tensorstore) error text: ``... "PATH" ... [os_error_code='28']``."""
    code = re.search(r"os_error_code='?(\d+)", message)
    if not code:
        return None
    paths = re.findall(r'"(/[^"]+)"', message)
    return OSError(int(code.group(1)), os.strerror(int(code.group(1))),
                   paths[-1] if paths else None)


def _drop_orbax_thread_errors(record) -> bool:
    # Orbax logs a failed background write (with its traceback) and raises the same error in
    # the main thread, which one_line_errors reports: keep only that.
    return not (record.levelno >= 40 and "orbax" in record.pathname)


def _drop_unretrieved(record) -> bool:
    # The failed checkpoint write's sibling futures, collected at exit: the same disk error.
    return "exception was never retrieved" not in record.getMessage()


def _quiet_closed_loops(unraisable) -> None:
    # After a failed checkpoint write, tensorstore's callbacks may still post to the asyncio
    # loop orbax has closed; Python prints each such "unraisable" error. The write's own error
    # is reported once by one_line_errors.
    value = unraisable.exc_value
    if not (isinstance(value, RuntimeError) and str(value) == "Event loop is closed"):
        sys.__unraisablehook__(unraisable)


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn the errors a run can meet into one ``error:`` line and exit status 1."""
    from rgrad import train

    absl_logging.get_absl_logger().addFilter(_drop_orbax_thread_errors)
    sys.unraisablehook = _quiet_closed_loops
    std_logging.getLogger("asyncio").addFilter(_drop_unretrieved)
    try:
        yield
    except OSError as e:
        fail(_disk_message(e))
    except (ValueError, RuntimeError, train.NonFiniteError) as e:
        inner = _os_error(str(e))
        fail(_disk_message(inner) if inner else str(e))
