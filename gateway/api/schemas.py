"""The shapes of /api/v1 requests and answers. Requests are validated against these models (strictly: a number is
not a string, a list is not an object) and the OpenAPI document is generated from the same models, so the two
cannot drift apart. Answers are documented here and checked against the running API by schemathesis in the tests.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.broadcasts import MAX_TEXT_CHARS
from gateway.meetings import DEFAULT_TEMPLATES, KINDS
from storage.complaints import STATUSES as COMPLAINT_STATUSES
from storage.scorecards import ACTION_STATUSES, MAX_MIN_CELL, ROUND_STATUSES

Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
LocalTime = Annotated[str, StringConstraints(max_length=40), Field(
    description="Local time (Asia/Ulaanbaatar) like 2026-11-26 18:00, or ISO 8601 with an offset",
    examples=["2026-11-26T18:00:00+08:00"])]
LocalDate = Annotated[str, StringConstraints(max_length=10), Field(description="A date YYYY-MM-DD",
                                                                    examples=["2026-11-26"])]
AudienceItem = Annotated[str, StringConstraints(min_length=1, max_length=100), Field(
    examples=["khoroo:BGD-07", "group:volunteers", "all"])]
Audience = Annotated[AudienceItem | Annotated[list[AudienceItem], Field(min_length=1, max_length=100)], Field(
    description='a list like ["khoroo:BGD-07", "group:volunteers"] (or one such text)')]


class Strict(BaseModel):
    """JSON types exactly as documented; fields we do not know are ignored (clients may send more)."""

    model_config = ConfigDict(strict=True, extra="ignore")


QUERY = ConfigDict(strict=False, extra="forbid")  # query values are text; an unknown name is a typo: say so


class Open(BaseModel):
    """An answer: these fields at least (more may come in later versions)."""

    model_config = ConfigDict(extra="allow")


class Pair(Strict):
    mn: Text | None = None
    en: Text | None = None


TextPair = Annotated[Text | Pair, Field(description="Mongolian text, or an object {mn, en} of texts")]
TemplatePurpose = Literal[tuple(DEFAULT_TEMPLATES)]  # type: ignore[valid-type]


# ---- requests -------------------------------------------------------------------------------------------------

class MeetingIn(Strict):
    kind: Literal[KINDS] = "inh"  # type: ignore[valid-type]
    title: TextPair | None = None
    title_mn: Text | None = None
    title_en: Text | None = None
    place: TextPair | None = None
    place_mn: Text | None = None
    place_en: Text | None = None
    starts_at: LocalTime
    notice_at: LocalTime | None = None
    audience: Audience
    reminder_minutes: Annotated[list[Annotated[int, Field(ge=1, le=60 * 24 * 90)]], Field(max_length=10)] | None = None
    templates: dict[TemplatePurpose, Pair] | None = Field(
        None, description="Override texts per purpose; placeholders {title} {place} {time} {weekday} {date}")
    latin: bool = False
    dry_run: bool = False


class MeetingChange(Strict):
    status: Literal["cancelled"] | None = None
    starts_at: LocalTime | None = None
    place: TextPair | None = None
    place_mn: Text | None = None
    place_en: Text | None = None


class MeetingListQuery(Strict):
    model_config = QUERY
    all: Literal["0", "1", "true", "false", "yes", "no"] | None = None


class BroadcastIn(Strict):
    text: TextPair | None = None
    text_mn: Text | None = None
    text_en: Text | None = None
    audience: Audience
    send_at: LocalTime | None = None
    latin: bool = False
    dry_run: bool = False


class IndicatorIn(Strict):
    code: Code
    mn: Text
    en: Text
    latn: Text | None = None
    provider_score: Annotated[int, Field(ge=1, le=5)] | None = None


class ServicePointIn(Strict):
    code: Code
    admin_unit: Code | None = None
    kind: ShortText | None = None
    name_mn: Text | None = None
    name_en: Text | None = None


class RoundChange(Strict):
    min_cell: Annotated[int, Field(ge=1, le=MAX_MIN_CELL)] | None = None
    opens_on: LocalDate | None = None
    closes_on: LocalDate | None = None
    meeting_at: LocalTime | None = None
    meeting_place_mn: Text | None = None
    meeting_place_en: Text | None = None


class RoundIn(RoundChange):
    service_point: Code | ServicePointIn
    indicators: Annotated[list[IndicatorIn], Field(min_length=1, max_length=50)]
    min_cell: Annotated[int, Field(ge=1, le=MAX_MIN_CELL)] = 5


class RoundListQuery(Strict):
    model_config = QUERY
    status: Literal[ROUND_STATUSES] | None = None  # type: ignore[valid-type]


class ActionItemIn(Strict):
    action: Annotated[Text, StringConstraints(min_length=1)]
    owner_role: Annotated[ShortText, StringConstraints(min_length=1)]
    owner_org: Annotated[ShortText, StringConstraints(min_length=1)]
    due_on: LocalDate
    indicator: Code | None = None


class ActionItemChange(Strict):
    status: Literal[ACTION_STATUSES]  # type: ignore[valid-type]
    note: Text | None = None


class ComplaintListQuery(Strict):
    model_config = QUERY
    status: Literal[COMPLAINT_STATUSES] | None = None  # type: ignore[valid-type]
    limit: Annotated[int, Field(ge=0, le=500)] = 100
    offset: Annotated[int, Field(ge=0, le=10**9)] = 0


class ComplaintStatusIn(Strict):
    status: Literal[COMPLAINT_STATUSES]  # type: ignore[valid-type]
    note: Text | None = None


class RedactionIn(Strict):
    text: Annotated[Text, StringConstraints(min_length=1)]


class SensitiveIn(Strict):
    sensitive: bool


class DigestQuery(Strict):
    model_config = QUERY
    unit: Code | None = None


class ExportQuery(Strict):
    model_config = QUERY
    from_: LocalDate | None = Field(None, alias="from")
    to: LocalDate | None = None


# ---- answers --------------------------------------------------------------------------------------------------

class Error(Open):
    error: str
    detail: Any = None


class PairOut(Open):
    mn: str | None = None
    en: str | None = None


class Send(Open):
    id: int
    purpose: str
    status: str
    recipients: int | None = None
    send_at: str
    note: str | None = None


class MeetingOut(Open):
    id: int
    kind: str
    status: str
    title: PairOut
    place: PairOut
    starts_at: str
    audience: list[str]
    reminder_minutes: list[int]
    latin: bool
    tally: dict[str, int]
    sends: list[Send]


class MeetingList(Open):
    meetings: list[MeetingOut]


class PreviewOut(Open):
    dry_run: Literal[True]


class BroadcastOut(Open):
    id: int
    purpose: str
    status: str
    audience: list[str]
    send_at: str
    recipients: int
    messages: dict[str, int]


class IndicatorOut(Open):
    code: str
    mn: str
    en: str
    latn: str | None = None
    provider_score: int | None = None


class ActionItemOut(Open):
    id: int
    status: str
    due_on: str | None = None


class RoundOut(Open):
    id: int
    number: int
    status: str
    min_cell: int
    service_point: dict[str, Any]
    indicators: list[IndicatorOut]
    respondents: int
    action_items: list[ActionItemOut]


class RoundList(Open):
    rounds: list[RoundOut]


class ComplaintOut(Open):
    ref: str
    status: str
    sensitive: bool
    created_at: str
    due_at: str


class ComplaintList(Open):
    complaints: list[ComplaintOut]


class DigestOut(Open):
    week: str
    scorecards: list[dict[str, Any]]


class OpenApiDocument(Open):
    openapi: str
    paths: dict[str, Any]
