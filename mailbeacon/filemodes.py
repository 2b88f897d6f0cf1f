"""Private data files (issue #12, item 17): the data directory holds signing keys, mail and readers' addresses.

Files are 0600 and directories 0700: new ones through the server's umask and explicit
modes, existing installations (`mailbeacon.db` was 0644 in a 0755 directory) by
`tighten` at every start, which chmods what is looser and says what it changed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

PRIVATE_UMASK = 0o077
"""New files and directories of the server process: no access for group or other."""
LOOSE = 0o077


@dataclass
class Tightened:
    """What `tighten` changed: paths with their old modes."""

    changed: list[tuple[Path, int]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    """Paths whose mode could not be changed (a file of another user), with the reason."""

    def summary(self, root: Path) -> str:
        """One log line: how many were tightened, with the first few and their old modes."""
        shown = ", ".join(f"{path.relative_to(root) if path != root else '.'} ({mode:o})"
                          for path, mode in self.changed[:5])
        more = f" and {len(self.changed) - 5} more" if len(self.changed) > 5 else ""
        text = (f"{root}: {len(self.changed)} files and directories were open to group or other, now private "
                f"(files 0600, directories 0700): {shown}{more}")
        if self.failed:
            text += f"; could not change {', '.join(f'{p} ({why})' for p, why in self.failed[:5])}"
        return text


def private_dir(path: Path) -> None:
    """Create `path` (and missing parents) 0700; an existing directory keeps its mode (`tighten` fixes it)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def tighten(root: Path) -> Tightened:
    """Remove group and other access from `root` and everything below it; symbolic links are left alone."""
    result = Tightened()
    _private(root, result)
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        for name in [*dirs, *files]:
            _private(here / name, result)
    return result


def _private(path: Path, result: Tightened) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:  # gone meanwhile (a spool replayed, a temporary file renamed)
        return
    if stat.S_ISLNK(info.st_mode) or not info.st_mode & LOOSE:
        return
    mode = stat.S_IMODE(info.st_mode)
    try:
        path.chmod(mode & ~LOOSE)
    except FileNotFoundError:
        return
    except OSError as exc:
        result.failed.append((path, exc.strerror or type(exc).__name__))
        return
    result.changed.append((path, mode))
