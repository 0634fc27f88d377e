"""The JSON API's request and response bodies, as the OpenAPI document describes them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from dialectid.scoring.analysis import Analysis, LabelProbability

Role = Literal["caseworker", "analyst", "admin"]


class LoginIn(BaseModel):
    name: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class SessionOut(BaseModel):
    name: str
    role: Role
    csrf_token: str = Field(description="send it as X-CSRF-Token with every call that changes something")


class CaseRow(BaseModel):
    reference: str
    status: str
    pseudonym: str
    created_at: str
    recordings: int
    assigned_to: str | None


class Quality(BaseModel):
    status: str | None
    flags: list[str]
    reasons: list[str]


class FeedbackOut(BaseModel):
    author: str
    role: str
    agrees: bool | None
    linguist_outcome: str | None
    comment: str | None
    created_at: str


class Signature(BaseModel):
    valid: bool
    message: str
    signed_at: str | None
    key_id: str | None


class Integrity(BaseModel):
    valid: bool = Field(
        description="false: the stored analysis was changed since it was stored; its figures are withheld"
    )
    message: str


class AnalysisOut(BaseModel):
    registration_number: str
    status: str
    top_label: str | None
    top_probability: float | None
    model: str
    report: bool
    created_at: str
    speech_s: float | None
    probabilities: list[LabelProbability]
    quality: Quality
    feedback: list[FeedbackOut]
    signature: Signature | None
    integrity: Integrity


class RecordingOut(BaseModel):
    sha256: str
    codec: str
    container: str
    duration_s: float
    recorded_by: str
    recorded_at: str
    analyses: list[AnalysisOut]


class JobOut(BaseModel):
    id: str
    case_reference: str
    started_by: str
    state: Literal["queued", "running", "done", "failed"]
    stage: str
    done: int
    total: int
    message: str
    analysed: list[str]
    created_at: str
    finished_at: str | None
    finished: bool


class CaseDetail(BaseModel):
    reference: str
    status: str
    pseudonym: str
    created_at: str
    assigned_to: str | None
    recordings: list[RecordingOut]
    jobs: list[JobOut]


class AuditEventOut(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    case: str | None
    details: dict[str, Any]


class ReportOut(BaseModel):
    registration_number: str
    signature: Signature
    report: dict[str, Any] | None = Field(description="what the report says, section by section; null when the "
                                          "signature is NOT VALID for what the case file holds")  # fmt: skip
    analysis: Analysis | None = Field(description="the Analysis the report was made from; null when NOT VALID")


class FeedbackIn(BaseModel):
    registration_number: str = Field(max_length=60)
    agreement: Literal["agree", "disagree", "unsure"] = Field(description="with the analysis's top label")
    linguist_outcome: str | None = Field(None, max_length=200, description="the linguist's verification, if any")
    comment: str | None = Field(None, max_length=4000)


class UploadOut(BaseModel):
    sha256: str
    duration_s: float
    codec: str
    job: JobOut


class UserIn(BaseModel):
    name: str = Field(max_length=64)
    role: Role
    password: str = Field(max_length=1024)


class UserOut(BaseModel):
    id: int
    name: str
    role: Role
    active: bool
    cases: int = 0


class UserPatch(BaseModel):
    active: bool


class AssignmentIn(BaseModel):
    assignee: str | None = Field(None, max_length=64, description="a caseworker's user name; null: nobody")


class AgreementOut(BaseModel):
    model: str
    feedback: int
    agree: int
    disagree: int
    no_opinion: int
    agreement: float | None = Field(description="agree / (agree + disagree); null before any such feedback")
