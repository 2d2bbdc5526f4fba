"""The kiosk session rules, written once: ``assets/session_rules.json``.

Both screening stations follow this one file: the Python station
(``python -m scoligait_edge.kiosk``) and the ``Screener``'s readiness through
:class:`SessionRules`, the Android kiosk (``KioskSession``) through the Kotlin
table that ``android_demo/tools/gen_kotlin_tables.py`` generates from it (a JVM
test checks they agree), so the two cannot drift.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from scoligait_edge.errors import ScoliGaitError

SESSION_RULES_PATH = Path(__file__).resolve().parent / "assets" / "session_rules.json"


class SessionRules(BaseModel):
    """When a subject's recording starts and ends, and whose consent it needs.

    A station guides until the whole body has been in view for ``settle_frames``
    consecutive frames, then records until ``target_screened_windows`` windows
    passed the quality check (the Screener's ``ready``), ``max_recording_s``
    passed, the operator stops or a video ends. The decision itself is
    :meth:`Screener.summary`'s rule (mean window probability against the
    bundle's threshold, from one screened window on); the target only decides
    when enough evidence has been gathered to stop.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", serialize_by_alias=True)  # JSON says "schema", both ways

    schema_: Literal["scoligait-session-rules/1"] = Field("scoligait-session-rules/1", alias="schema")
    settle_frames: Annotated[StrictInt, Field(ge=1)] = 15
    target_screened_windows: Annotated[StrictInt, Field(ge=1)] = 12
    max_recording_s: Annotated[float, Field(gt=0)] = 60.0
    minor_needs_guardian_consent: StrictBool = True
    adult_age: Annotated[StrictInt, Field(ge=1)] = 18

    def consent_valid(self, *, subject_is_minor: bool, subject_consents: bool, guardian_consents: bool) -> bool:
        """The subject's consent, and a guardian's as well for a minor (when the rule asks for it)."""
        needs_guardian = subject_is_minor and self.minor_needs_guardian_consent
        return subject_consents and (guardian_consents or not needs_guardian)


def load_session_rules(path: str | Path | None = None) -> SessionRules:
    """The rules from ``path`` (default: the shipped file); ScoliGaitError names the file and the problem."""
    if path is None:
        return default_session_rules()
    return _read(Path(path))


@lru_cache(maxsize=1)
def default_session_rules() -> SessionRules:
    """The shipped rules (read once)."""
    return _read(SESSION_RULES_PATH)


def _read(path: Path) -> SessionRules:
    try:
        return SessionRules.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ScoliGaitError(f"cannot read the session rules {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ScoliGaitError(f"invalid session rules {path}: {exc}") from None
