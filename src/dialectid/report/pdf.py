"""The PDF report (reportlab): one Analysis, its case context and its model, laid out for 2 to
40+ labels and long identifiers without overflow (every cell wraps; charts grow with the labels)."""

from __future__ import annotations

import io
from pathlib import Path

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from dialectid.report.content import NOTICE, ReportContent

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
PAGE_WIDTH = A4[0] - 36 * mm
CHART_LABELS = 15
PALETTE = [colors.HexColor(c) for c in ("#1f5fa8", "#c0392b", "#27ae60", "#8e44ad", "#d68910", "#16a085",
                                          "#7f8c8d", "#2c3e50")]  # fmt: skip


def _fonts() -> tuple[str, str]:
    """DejaVu (covers Arabic, Cyrillic, ... labels) where installed; Helvetica otherwise."""
    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    if regular.is_file() and bold.is_file():
        if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
            pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
        return "DejaVuSans", "DejaVuSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def _styles(font: str, bold: str) -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName=font, fontSize=9, leading=12, alignment=TA_LEFT,
                          wordWrap="CJK")  # fmt: skip
    return {
        "title": ParagraphStyle("title", parent=body, fontName=bold, fontSize=15, leading=19, spaceAfter=4),
        "h2": ParagraphStyle(
            "h2", parent=body, fontName=bold, fontSize=11, leading=14, spaceBefore=8, spaceAfter=4, keepWithNext=1
        ),  # a heading never ends a page
        "lead": ParagraphStyle("lead", parent=body, fontName=bold, fontSize=10, leading=13),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5),
        "notice": ParagraphStyle(
            "notice",
            parent=body,
            fontName=bold,
            textColor=colors.HexColor("#8b0000"),
            borderColor=colors.HexColor("#8b0000"),
            borderWidth=0.8,
            borderPadding=5,
            spaceBefore=6,
            spaceAfter=6,
        ),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8.5, leading=10.5),
    }


def render_pdf(content: ReportContent) -> bytes:
    font, bold = _fonts()
    styles = _styles(font, bold)
    buffer = io.BytesIO()
    title = content.title
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=18 * mm, title=f"{title} {content.registration_number}",
                            author="dialectid", subject=title, creator="dialectid")  # fmt: skip
    story = [Paragraph(_escape(title), styles["title"]), _table(content.header, styles), Spacer(1, 4)]
    story += [Paragraph(NOTICE, styles["notice"])]
    story += _result_section(content, styles, font)
    story += [Paragraph("Quality", styles["h2"])]
    story += [Paragraph(_escape(line), styles["body"]) for line in content.quality_lines]
    story += _model_scope_section(content, styles)
    if content.families:
        story += [Paragraph("Totals by language family", styles["h2"])]
        story += [_table([("language family", "probability")] + [(content.name(k), f"{100 * v:.1f} %")
                                                                 for k, v in content.families], styles, header=True)]  # fmt: skip
    if content.timeline:
        story += [Paragraph("Consistency over the recording", styles["h2"]), _timeline_chart(content, font),
                  Paragraph("Each bar is a window of speech at its time in the recording, coloured by its most likely "
                            "language; its height is that language's probability in the window.", styles["small"])]  # fmt: skip
    story += [Paragraph("Recording", styles["h2"]), _table([(f.label, f.value) for f in content.recording], styles)]
    story += [Paragraph("How well the model did on its tests", styles["h2"]), _table(content.model_rows, styles)]
    story += [Paragraph(_escape(line), styles["body"]) for line in content.model_lines + content.speech_lines]
    story += [Paragraph(NOTICE, styles["notice"])]
    footer = f"{title} · report {content.registration_number}"
    doc.build(story, canvasmaker=lambda *a, **k: _NumberedCanvas(*a, footer=footer, font=font, **k))
    return buffer.getvalue()


def _result_section(content: ReportContent, styles, font: str) -> list:
    """The status first, in words; then the probabilities by name, and what they mean."""
    story = [Paragraph("Result", styles["h2"])]
    story += [
        Paragraph(_escape(line), styles["lead" if i == 0 else "body"]) for i, line in enumerate(content.status_lines)
    ]
    story += _dialect_section(content, styles)
    if not content.probabilities:
        return story
    shown = content.probabilities[:CHART_LABELS]
    story += [Spacer(1, 4), _probability_chart([(content.name(k), p) for k, p in shown], font, content.status == "ok")]
    if len(shown) < len(content.probabilities):
        story += [Paragraph(f"The chart shows the {len(shown)} most likely of {len(content.probabilities)} languages; "
                            "the table lists all of them.", styles["small"])]  # fmt: skip
    heading = "probability" if content.status == "ok" else "probability among the known languages (not a result)"
    story += [_table([("language", heading)] + [(content.name(k), f"{100 * v:.1f} %") for k, v in content.probabilities],
                     styles, header=True)]  # fmt: skip
    story += [Paragraph(_escape(line), styles["body"]) for line in content.reading_lines]
    return story


def _model_scope_section(content: ReportContent, styles) -> list:
    """What the model can tell and, from its card, what it cannot: every report says both."""
    story = [Paragraph("What this model can do", styles["h2"])]
    if content.can_do:
        story += [Paragraph(_escape(content.can_do), styles["body"])]
    if content.limitations:
        story += [Paragraph("What this model cannot do", styles["h2"]),
                  Paragraph("From the model's card (part of the verified model bundle):", styles["small"])]  # fmt: skip
        story += [Paragraph("• " + _escape(item), styles["body"]) for item in content.limitations]
    return story


def _dialect_section(content: ReportContent, styles) -> list:
    """The dialect head's split of the top language, right under the result it refines."""
    if content.dialect is None:
        return []
    block = content.dialect
    headline = ParagraphStyle("dialect", parent=styles["body"], fontName=styles["h2"].fontName, fontSize=10.5)
    part = [Paragraph("Dialect", styles["h2"]), Paragraph(_escape(block.headline), headline)]
    part += [Paragraph(_escape(line), styles["body"]) for line in block.lines]
    part += [Spacer(1, 3), _table([("dialect", "probability")] + [(k, f"{100 * v:.1f} %") for k, v in block.rows],
                                  styles, header=True)]  # fmt: skip
    return [KeepTogether(part)]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(rows, styles, header: bool = False) -> Table:
    """Two columns, every cell a wrapping paragraph: long values break instead of overflowing."""
    data = [[Paragraph(_escape(str(a)), styles["cell"]), Paragraph(_escape(str(b)), styles["cell"])] for a, b in rows]
    table = Table(data, colWidths=[0.38 * PAGE_WIDTH, 0.62 * PAGE_WIDTH], repeatRows=1 if header else 0)
    style = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
             ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]  # fmt: skip
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef6")))
    table.setStyle(TableStyle(style))
    return table


def _probability_chart(probabilities: list[tuple[str, float]], font: str, result: bool = True) -> Drawing:
    """Bars by language name; grey where the status gives no result (the bars then only compare)."""
    labels = [label if len(label) <= 28 else label[:27] + "…" for label, _ in probabilities][::-1]
    values = [100 * p for _, p in probabilities][::-1]
    bar = 9 if len(values) <= 12 else 5.5
    bottom = 30  # room for the value labels and, below them, the axis title
    height = len(values) * (bar + 3) + bottom + 8
    drawing = Drawing(PAGE_WIDTH, height)
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 120, bottom, PAGE_WIDTH - 150, height - bottom - 8
    chart.data = [values]
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 20
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.categoryAxis.categoryNames = labels
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7 if len(values) <= 12 else 5.5
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.categoryAxis.visibleTicks = 0
    chart.bars[0].fillColor = PALETTE[0] if result else colors.HexColor("#9aa5b1")
    chart.bars[0].strokeColor = None
    drawing.add(chart)
    drawing.add(String(chart.x + chart.width / 2, 3, "calibrated probability (%)", fontName=font, fontSize=7,
                       textAnchor="middle"))  # fmt: skip
    return drawing


def _timeline_chart(content: ReportContent, font: str) -> Drawing:
    """Each window as a bar at its time, coloured by its most likely language, its height that
    language's probability, against a 0-100 % scale."""
    plot, left, bottom = 70, 44, 16
    width = PAGE_WIDTH - left - 10
    drawing = Drawing(PAGE_WIDTH, bottom + plot + 28)
    end = max(w[1] for w in content.timeline) or 1.0
    order = [p[0] for p in content.probabilities]
    top_labels = sorted({w[2] for w in content.timeline}, key=lambda x: order.index(x) if x in order else len(order))
    colour = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(top_labels)}
    for fraction in (0, 0.5, 1.0):  # the y scale, with light grid lines
        y = bottom + plot * fraction
        drawing.add(Line(left, y, left + width, y, strokeWidth=0.3, strokeColor=colors.lightgrey))
        drawing.add(String(left - 4, y - 2.5, f"{100 * fraction:.0f} %", fontName=font, fontSize=6.5, textAnchor="end"))
    drawing.add(Line(left, bottom, left, bottom + plot, strokeWidth=0.5))
    for start, stop, label, probability in content.timeline:
        x = left + width * start / end
        w = max(0.8, width * (stop - start) / end * 0.5)
        drawing.add(Rect(x, bottom, w, plot * probability, fillColor=colour[label], strokeColor=None))
    for fraction in (0, 0.25, 0.5, 0.75, 1.0):
        drawing.add(String(left + width * fraction, bottom - 11, f"{end * fraction:.0f} s", fontName=font, fontSize=6.5,
                           textAnchor="middle"))  # fmt: skip
    drawing.add(String(left, bottom + plot + 6, "probability of the window's most likely language (%)", fontName=font,
                       fontSize=7))  # fmt: skip
    x = left
    for label in top_labels[:8]:
        name = content.name(label)
        text = name if len(name) <= 24 else name[:23] + "…"
        drawing.add(Rect(x, bottom + plot + 17, 7, 7, fillColor=colour[label], strokeColor=None))
        drawing.add(String(x + 10, bottom + plot + 18, text, fontName=font, fontSize=7))
        x += 16 + pdfmetrics.stringWidth(text, font, 7)
        if x > PAGE_WIDTH - 60:
            break
    return drawing


class _NumberedCanvas(pdfcanvas.Canvas):
    """Adds 'page N of M' and the report id to every page once the page count is known."""

    def __init__(self, *args, footer: str, font: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []
        self._footer, self._font = footer, font

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont(self._font, 7.5)
            self.setFillColor(colors.grey)
            self.drawString(18 * mm, 10 * mm, self._footer)
            self.drawRightString(A4[0] - 18 * mm, 10 * mm, f"page {self._pageNumber} of {total}")
            super().showPage()
        super().save()
