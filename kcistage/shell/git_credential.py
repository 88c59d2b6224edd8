"""Git's credential helper for kcistage: answers `get` with a token read from an inherited fd.

kcistage runs git with ``-c credential.helper=`` (dropping any helper from the user's or the
system's git config, which could store the token on disk) followed by this helper. The token is
never on a command line, in a URL, in an environment variable or in a file: kcistage writes it
into an anonymous in-memory file (memfd) whose descriptor git and this helper inherit, and the
helper's arguments name only that descriptor's number and the one protocol and host it may answer
for (so a redirect to another host never receives the token).
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

USERNAME = "x-access-token"  # GitHub takes any user name with a token; this is its documented one
_MAX = 64 * 1024


def helper_command(fd: int, protocol: str, host: str, python: str = sys.executable) -> str:
    """The `credential.helper` value (a shell snippet for git) that answers from `fd`."""
    words = [python, "-m", "kcistage.shell.git_credential", "--fd", str(fd),
             "--protocol", protocol, "--host", host]
    return "!" + " ".join(shlex.quote(word) for word in words)


@contextmanager
def token_fd(token: str) -> Iterator[int]:
    """An inheritable descriptor holding `token`, readable many times; closed on exit.

    A memfd (RAM only, re-readable with pread) where the system has one; else a pipe, which
    holds the token for one read (git asks once per command)."""
    data = token.encode("utf-8")
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("kcistage-credential", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
        except BaseException:
            os.close(fd)
            raise
    else:  # pragma: no cover (non-Linux)
        fd, writer = os.pipe()
        os.write(writer, data)
        os.close(writer)
    try:
        yield fd
    finally:
        os.close(fd)


def _read_token(fd: int) -> str:
    try:
        data = os.pread(fd, _MAX, 0)
    except OSError:  # a pipe: read it once
        data = os.read(fd, _MAX)
    return data.decode("utf-8").strip()


def _parse_request(text: str) -> dict[str, str]:
    """Git's `key=value` lines up to a blank line."""
    request: dict[str, str] = {}
    for line in text.splitlines():
        if not line:
            break
        key, sep, value = line.partition("=")
        if sep:
            request[key] = value
    return request


def answer(request: dict[str, str], protocol: str, host: str, token: str) -> str:
    """The reply to a `get`: the credential only for the expected protocol and host, else ""."""
    if request.get("protocol") != protocol or request.get("host") != host or not token:
        return ""
    return f"username={USERNAME}\npassword={token}\n"


def main(argv: Sequence[str]) -> int:
    """`--fd N --protocol P --host H get|store|erase`; only `get` answers, and never fails git."""
    args = list(argv)
    options: dict[str, str] = {}
    while len(args) >= 2 and args[0] in ("--fd", "--protocol", "--host"):
        options[args[0][2:]] = args[1]
        del args[:2]
    if args != ["get"] or set(options) != {"fd", "protocol", "host"}:
        sys.stdin.read()  # store/erase: kcistage keeps no credential anywhere
        return 0
    request = _parse_request(sys.stdin.read())
    try:
        token = _read_token(int(options["fd"]))
    except (OSError, ValueError, UnicodeDecodeError):
        return 0  # no answer: git reports the authentication failure
    sys.stdout.write(answer(request, options["protocol"], options["host"], token))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
