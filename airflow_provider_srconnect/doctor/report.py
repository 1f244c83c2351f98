"""The doctor's findings: one group per contract group, each holds / differs / not checked, with evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["holds", "differs", "not checked"]
#: ``auth`` first, then the contract's groups in the contract's order.
GROUPS: tuple[str, ...] = (
    "auth",
    "paths",
    "window",
    "pagination",
    "filters",
    "listing",
    "records",
    "enums",
    "logs",
    "log_files",
    "errors",
)
_MARK = {True: "+", False: "!", None: "-"}


@dataclass
class Group:
    """The findings of one group: (True = holds, False = differs, None = not checked, text)."""

    name: str
    lines: list[tuple[bool | None, str]] = field(default_factory=list)

    @property
    def status(self) -> Status:
        verdicts = {ok for ok, _ in self.lines}
        if False in verdicts:
            return "differs"
        return "holds" if True in verdicts else "not checked"


@dataclass
class Report:
    """Every group's findings, and how many requests they cost."""

    groups: dict[str, Group] = field(default_factory=lambda: {name: Group(name) for name in GROUPS})
    api_requests: int = 0
    downloads: int = 0

    def add(self, group: str, ok: bool | None, text: str) -> None:
        """Record one finding of ``group``."""
        self.groups[group].lines.append((ok, text))

    def differing(self) -> list[str]:
        """The names of the groups that differ."""
        return [g.name for g in self.groups.values() if g.status == "differs"]

    @property
    def exit_code(self) -> int:
        """0 when nothing differs, 1 otherwise."""
        return 1 if self.differing() else 0

    def render(self) -> str:
        """One line per group (name, status), its evidence indented below (+ holds, ! differs, - not checked)."""
        out = []
        for group in self.groups.values():
            out.append(f"{group.name:<12} {group.status}")
            lines = group.lines or [(None, "nothing to check it with")]
            out += [f"    {_MARK[ok]} {text}" for ok, text in lines]
        return "\n".join(out)
