"""An undo stack: each step that changes the world pushes how to take it back.

On failure `rollback()` runs the pushed actions newest first and keeps going when one of
them fails (a half rollback is worse than a noisy one); their errors are returned so the
caller can report them next to the original failure.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class UndoStack:
    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], object]]] = []

    def push(self, what: str, action: Callable[[], object]) -> None:
        self._actions.append((what, action))

    def __len__(self) -> int:
        return len(self._actions)

    def rollback(self) -> list[str]:
        errors = []
        while self._actions:
            what, action = self._actions.pop()
            try:
                action()
            except Exception as exc:  # keep undoing the rest; report every failure
                errors.append(f"undo {what}: {exc}")
        return errors

    def discard(self) -> None:
        """Forget every action: the operation succeeded and its changes stay."""
        self._actions.clear()
