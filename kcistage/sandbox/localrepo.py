"""A local bare git repository standing in for a GitHub repo (branches plus refs/pull/N/head)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

# A fixed identity and clock so the same script of commits gives the same SHAs.
_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.org",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.org",
}
_EPOCH = 1_700_000_000  # first commit time; each child commit is one minute after its parent


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for test git calls: no user/system config, fixed identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(_IDENTITY)
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0",
               LC_ALL="C")
    if extra:
        env.update(extra)
    return env


class LocalRepo:
    """A local bare repository that plays a GitHub repo: branches plus refs/pull/N/head."""

    def __init__(self, path: Path):
        """Wrap an existing bare repository at `path` (see `create`)."""
        self.path = Path(path)
        self.url = str(self.path)

    def _git(self, *args: str, input: str | bytes | None = None,
             env: dict[str, str] | None = None) -> str:
        """Run git on the bare repo and return stdout (stripped); raise on failure."""
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(["git", "--git-dir", str(self.path), *args], input=data,
                              capture_output=True, env=_env(env), check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode(errors="replace").strip()

    @classmethod
    def create(cls, path: Path, files: dict[str, str], branch: str = "main") -> LocalRepo:
        """A new bare repo at `path` with one commit holding `files` on `branch`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "--bare", f"--initial-branch={branch}", str(path)],
                       check=True, env=_env(), capture_output=True)
        repo = cls(path)
        repo.commit(branch, dict(files), "Initial commit")
        return repo

    def _exists(self, ref: str) -> bool:
        """True if `ref` names a commit in this repo."""
        proc = subprocess.run(["git", "--git-dir", str(self.path), "rev-parse", "-q", "--verify",
                               f"{ref}^{{commit}}"], capture_output=True, env=_env(), check=False)
        return proc.returncode == 0

    def _make_commit(self, parent: str | None, files: dict[str, str | None], message: str) -> str:
        """Write a commit whose tree is parent's tree with `files` applied; return its sha."""
        with tempfile.TemporaryDirectory() as tmp:
            index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent:
                self._git("read-tree", parent, env=index)
            lines = []
            for name, content in sorted(files.items()):
                if content is None:
                    lines.append(f"0 {'0' * 40}\t{name}")
                else:
                    blob = self._git("hash-object", "-w", "--stdin", input=content)
                    lines.append(f"100644 {blob}\t{name}")
            if lines:
                self._git("update-index", "--index-info", input="\n".join(lines) + "\n",
                          env=index)
            tree = self._git("write-tree", env=index)
        when = _EPOCH
        if parent:
            when = int(self._git("show", "-s", "--format=%ct", parent)) + 60
        stamp = {"GIT_AUTHOR_DATE": f"@{when} +0000", "GIT_COMMITTER_DATE": f"@{when} +0000"}
        parents = ["-p", parent] if parent else []
        return self._git("commit-tree", tree, *parents, "-m", message or "Change", env=stamp)

    def commit(self, branch: str, files: dict[str, str | None], message: str,
               parent: str | None = None) -> str:
        """A new commit on `branch` (on `parent`, else the branch head); None deletes a file."""
        ref = branch if branch.startswith("refs/") else f"refs/heads/{branch}"
        if parent is None and self._exists(ref):
            parent = self.head(ref)
        sha = self._make_commit(parent, files, message)
        self._git("update-ref", ref, sha)
        return sha

    def open_pr(self, number: int, files: dict[str, str | None], message: str = "",
                base: str = "main") -> str:
        """A commit on top of `base`'s head; refs/pull/<number>/head points to it."""
        sha = self._make_commit(self.head(base), files, message or f"PR {number}")
        self._git("update-ref", f"refs/pull/{int(number)}/head", sha)
        return sha

    def push_pr(self, number: int, files: dict[str, str | None], message: str = "") -> str:
        """A new commit on top of PR `number`'s head (moves refs/pull/<number>/head)."""
        ref = f"refs/pull/{int(number)}/head"
        sha = self._make_commit(self.head(ref), files, message or f"PR {number} update")
        self._git("update-ref", ref, sha)
        return sha

    def force_pr(self, number: int, sha: str) -> None:
        """PR `number`'s head set to an existing commit (a force-push, e.g. back to an older one)."""
        self._git("update-ref", f"refs/pull/{int(number)}/head", self.head(sha))

    def head(self, ref: str) -> str:
        """The commit sha `ref` (branch name, full ref or sha) points to."""
        return self._git("rev-parse", "--verify", f"{ref}^{{commit}}")

    def branch_head(self, branch: str) -> str | None:
        """The commit `refs/heads/<branch>` points to, or None when there is no such branch."""
        proc = subprocess.run(["git", "--git-dir", str(self.path), "rev-parse", "-q", "--verify",
                               f"refs/heads/{branch}^{{commit}}"], capture_output=True, text=True,
                              env=_env(), check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def files_at(self, ref: str) -> dict[str, str]:
        """Every file (path -> text) in the tree of `ref`."""
        listing = self._git("ls-tree", "-r", "-z", "--full-tree", self.head(ref))
        entries = []
        for item in listing.split("\0"):
            if item:
                meta, name = item.split("\t", 1)
                entries.append((name, meta.split()[2]))
        if not entries:
            return {}
        proc = subprocess.run(["git", "--git-dir", str(self.path), "cat-file", "--batch"],
                              input="".join(f"{blob}\n" for _, blob in entries).encode(),
                              capture_output=True, env=_env(), check=True)
        out, pos, files = proc.stdout, 0, {}
        for name, _ in entries:
            header_end = out.index(b"\n", pos)
            size = int(out[pos:header_end].split()[2])
            start = header_end + 1
            files[name] = out[start:start + size].decode(errors="replace")
            pos = start + size + 1  # content is followed by a newline
        return files
