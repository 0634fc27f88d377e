"""Reports: an Analysis and its case context rendered to PDF, HTML and JSON, and signed."""

from __future__ import annotations

from dialectid.report.content import NOTICE, TITLE, ReportContent, build_content
from dialectid.report.context import ModelFacts, ReportContext
from dialectid.report.signing import (
    SignatureInfo,
    VerificationError,
    binding_problem,
    report_binding,
    sign_pdf,
    signing_key,
    trusted_key,
    verify_pdf,
)

__all__ = ["NOTICE", "TITLE", "ModelFacts", "ReportContent", "ReportContext", "SignatureInfo", "VerificationError",
           "binding_problem", "build_content", "render", "report_binding", "sign_pdf", "signing_key", "trusted_key",
           "verify_pdf"]  # fmt: skip


def render(analysis, context: ReportContext, fmt: str = "pdf"):
    """The report as PDF bytes, an HTML fragment or a JSON-ready dict."""
    content = build_content(analysis, context)
    if fmt == "pdf":
        from dialectid.report.pdf import render_pdf

        return render_pdf(content)
    if fmt == "html":
        from dialectid.report.html import render_html

        return render_html(content)
    if fmt == "json":
        return {"analysis": analysis.to_dict(), "report": content.to_json()}
    raise ValueError(f"unknown report format {fmt!r}; use pdf, html or json")
