"""The JSON API's request and response bodies, as the OpenAPI document describes them. What the
case file shows (cases, analyses, audit events) is the case file's own typed summaries
(`casefile.summaries`), served as they are: a field added there is in the API too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from dialectid.casefile.integrity import ReportSignature
from dialectid.casefile.jobqueue import Job
from dialectid.casefile.summaries import AuditEntry, CaseRow, CaseSummary, ModelAgreement
from dialectid.scoring.analysis import Analysis

__all__ = ["AssignmentIn", "AuditEntry", "CaseDetail", "CaseRow", "FeedbackIn", "JobOut", "LoginIn", "ModelAgreement",
           "ReportOut", "SessionOut", "UploadOut", "UserIn", "UserOut", "UserPatch"]  # fmt: skip

Role = Literal["caseworker", "analyst", "admin"]


class LoginIn(BaseModel):
    name: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class SessionOut(BaseModel):
    name: str
    role: Role
    csrf_token: str = Field(description="send it as X-CSRF-Token with every call that changes something")


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

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls.model_validate(job, from_attributes=True)  # `finished` is a property of the Job


@dataclass(frozen=True)
class CaseDetail(CaseSummary):
    """One case as the case page and the API show it: the case file's summary, every report's
    signature checked, and the case's analysis jobs (the latest first)."""

    jobs: list[JobOut]


class ReportOut(BaseModel):
    registration_number: str
    signature: ReportSignature
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
