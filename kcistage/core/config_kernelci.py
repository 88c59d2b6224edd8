"""Validate a `kernelci` step's settings (docs/verification.md) into a KernelCI value."""

from __future__ import annotations

import re
from typing import Any

from kcistage.core.config_values import ENV_RE, ValueChecker
from kcistage.core.settings import KERNEL_CHOICES, MAX_FILTERS, KernelCI, KernelTree

# Job and platform names as the pipeline's configuration writes them; a trailing + on a job
# filter also allows the job's children.
_FILTER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\+?$")
_KEYS = ("api", "pipeline", "token_file", "token_env", "tree", "jobfilter", "platformfilter",
         "kernel", "interval", "timeout", "max_regressions")


def kernelci_settings(v: ValueChecker, raw: Any, key: str) -> KernelCI:
    """The KernelCI value of a step's `kernelci` mapping; a one-line ConfigError names the key."""
    d = v.mapping(raw, key, _KEYS, required=("api", "pipeline", "tree"))
    if d.get("token_file") is None and d.get("token_env") is None:
        v.fail(key, "needs token_file or token_env (the KernelCI pipeline token)")
    tree = v.mapping(d["tree"], f"{key}.tree", ("url", "branch"), required=("url", "branch"))
    default = KernelCI(api="", pipeline="", tree=KernelTree("", ""))
    token_file, token_env = d.get("token_file"), d.get("token_env")
    return KernelCI(
        # Paths are appended to both: a trailing slash would double.
        api=v.http_url(d["api"], f"{key}.api").rstrip("/"),
        pipeline=v.http_url(d["pipeline"], f"{key}.pipeline").rstrip("/"),
        tree=KernelTree(url=v.fetch_url(tree["url"], f"{key}.tree.url"),
                        branch=v.branch(tree["branch"], f"{key}.tree.branch")),
        token_file=None if token_file is None else v.local_path(token_file, f"{key}.token_file"),
        token_env=None if token_env is None
        else v.string(token_env, f"{key}.token_env", ENV_RE, "an environment variable name"),
        jobfilter=_filters(v, d.get("jobfilter"), f"{key}.jobfilter"),
        platformfilter=_filters(v, d.get("platformfilter"), f"{key}.platformfilter"),
        kernel=v.choice(d.get("kernel", default.kernel), f"{key}.kernel", KERNEL_CHOICES),
        interval=v.duration(d["interval"], f"{key}.interval") if "interval" in d
        else default.interval,
        timeout=v.duration(d["timeout"], f"{key}.timeout") if "timeout" in d
        else default.timeout,
        max_regressions=v.integer(d.get("max_regressions", default.max_regressions),
                                  f"{key}.max_regressions", 0),
    )


def _filters(v: ValueChecker, value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = v.items(value, key, "a list of names")
    if len(items) > MAX_FILTERS:
        v.fail(key, f"at most {MAX_FILTERS} names (the pipeline's limit), got {len(items)}")
    return tuple(v.string(item, f"{key}[{i}]", _FILTER_RE, "a job or platform name")
                 for i, item in enumerate(items))
