"""Charts of the graph's figures as server-rendered SVG (no JavaScript): salaries by location and by
experience level, university tuition and rates, growth statistics. One query per data set.

Every label is XML-escaped; each chart carries a title and description for screen readers, and pages
show its data as a table too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape

from rdflib import Literal, URIRef
from rdflib.term import Node

from mlkg._rows import Backend, select
from mlkg.entities import CURRENCY_SYMBOLS, format_number, iri_to_path
from mlkg.namespaces import BASE

SALARY_QUERY = """
PREFIX mlkg: <https://w3id.org/mlkg/def/>
PREFIX schema: <http://schema.org/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?fig ?role ?value ?min ?max ?currency ?period ?stat ?place ?level ?publisher ?open WHERE {
  ?fig a mlkg:SalaryFigure ; mlkg:forRole ?role .
  OPTIONAL { ?fig schema:value ?value }
  OPTIONAL { ?fig schema:minValue ?min }
  OPTIONAL { ?fig schema:maxValue ?max }
  OPTIONAL { ?fig schema:currency ?currency }
  OPTIONAL { ?fig mlkg:payPeriod ?period }
  OPTIONAL { ?fig mlkg:statistic ?stat }
  OPTIONAL { ?fig mlkg:location ?place }
  OPTIONAL { ?fig mlkg:experienceLevel ?level }
  OPTIONAL { ?fig schema:publisher ?publisher }
  OPTIONAL { ?fig mlkg:maxOpenEnded ?open }
}
"""

UNIVERSITY_QUERY = """
PREFIX mlkg: <https://w3id.org/mlkg/def/>
PREFIX schema: <http://schema.org/>
SELECT ?u ?in ?out ?currency ?admission ?graduation WHERE {
  ?u a mlkg:University .
  OPTIONAL { ?u mlkg:inStateTuition ?t1 . ?t1 schema:value ?in . OPTIONAL { ?t1 schema:currency ?currency } }
  OPTIONAL { ?u mlkg:outOfStateTuition ?t2 . ?t2 schema:value ?out }
  OPTIONAL { ?u mlkg:admissionRate ?admission }
  OPTIONAL { ?u mlkg:graduationRate ?graduation }
}
"""

GROWTH_QUERY = """
PREFIX mlkg: <https://w3id.org/mlkg/def/>
SELECT ?g ?change ?start ?end ?projected WHERE {
  ?g a mlkg:GrowthStatistic ; mlkg:percentChange ?change .
  OPTIONAL { ?g mlkg:startYear ?start }
  OPTIONAL { ?g mlkg:endYear ?end }
  OPTIONAL { ?g mlkg:projected ?projected }
}
"""

PALETTE = ("#0b5cad", "#c05a00", "#2a7d3f", "#7a3ea1")
Label = Callable[[Node], str]


@dataclass
class Bar:
    """One bar: a value, or a range from `low` to `high`, in a series, optionally linked."""

    label: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    series: int = 0
    href: str | None = None
    note: str = ""
    open_ended: bool = False

    @property
    def top(self) -> float:
        """The largest number the bar reaches."""
        return max(x for x in (self.value, self.low, self.high, 0.0) if x is not None)


@dataclass
class Chart:
    """A horizontal bar chart: title, description, unit ("USD", "%") and bars."""

    id: str
    title: str
    description: str
    unit: str
    bars: list[Bar]
    series: list[str] = field(default_factory=list)

    def format(self, number: float, compact: bool = False) -> str:
        """A number in the chart's unit.

        >>> Chart("c", "", "", "USD", []).format(126585), Chart("c", "", "", "%", []).format(45)
        ('$126,585', '45%')
        >>> Chart("c", "", "", "USD", []).format(150000, compact=True)
        '$150k'
        """
        if self.unit == "%":
            return f"{format_number(Decimal(str(round(number, 1))))}%"
        if compact and abs(number) >= 1000:
            text = f"{format_number(Decimal(str(round(number / 1000, 1))))}k"
        else:
            text = format_number(Decimal(str(round(number, 2))))
        symbol = CURRENCY_SYMBOLS.get(self.unit)
        return f"{symbol}{text}" if symbol else f"{text} {self.unit}".strip()

    def value_text(self, bar: Bar) -> str:
        """A bar's figure as text: its value, or its range."""
        if bar.value is not None:
            return self.format(bar.value)
        low = self.format(bar.low) if bar.low is not None else "…"
        high = self.format(bar.high) if bar.high is not None else "…"
        return f"{low} – {high}{'+' if bar.open_ended else ''}"


def _num(node: Node | None) -> float | None:
    if isinstance(node, Literal):
        try:
            return float(node.toPython())
        except (TypeError, ValueError):
            return None
    return None


def nice_step(top: float, ticks: int = 5) -> float:
    """A round tick interval that covers `top` in about `ticks` steps.

    >>> nice_step(143180), nice_step(92), nice_step(0)
    (50000.0, 20.0, 1.0)
    """
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)


def render_svg(chart: Chart, width: int = 760) -> str:
    """The chart as an accessible inline SVG (title, description, linked bars, axis with ticks)."""
    label_w, right_pad, row_h, top_pad = 250, 110, 28, 34
    n = len(chart.bars)
    height = top_pad + n * row_h + 34 + (22 if len(chart.series) > 1 else 0)
    plot_w = width - label_w - right_pad
    top = max((b.top for b in chart.bars), default=0.0)
    if chart.unit == "%":
        top = max(top, 100.0) if top > 50 else top
    step = nice_step(top)
    axis_max = step * max(1, math.ceil(top / step)) if top > 0 else 1.0

    def x(value: float) -> float:
        return label_w + plot_w * (value / axis_max)

    cid = escape(chart.id)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{cid}-title {cid}-desc">',
        f'<title id="{cid}-title">{escape(chart.title)}</title>',
        f'<desc id="{cid}-desc">{escape(chart.description)}</desc>',
    ]
    axis_y = top_pad + n * row_h
    ticks = int(round(axis_max / step))
    for i in range(ticks + 1):
        tx = x(i * step)
        out.append(
            f'<line class="grid" x1="{tx:.1f}" y1="{top_pad - 6}" x2="{tx:.1f}" y2="{axis_y}"/>'
        )
        out.append(
            f'<text class="tick" x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle">'
            f"{escape(chart.format(i * step, compact=True))}</text>"
        )
    for i, bar in enumerate(chart.bars):
        y = top_pad + i * row_h
        colour = PALETTE[bar.series % len(PALETTE)]
        name = escape(bar.label if len(bar.label) <= 34 else bar.label[:32] + "…")
        repeated = i > 0 and chart.bars[i - 1].label == bar.label
        label = (
            ""
            if repeated
            else (
                f'<text class="label" x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" '
                f'text-anchor="end">{name}</text>'
            )
        )
        if bar.value is not None:
            x0, x1 = x(0), x(bar.value)
        else:
            x0 = x(bar.low if bar.low is not None else 0)
            x1 = x(bar.high if bar.high is not None else (bar.low or 0))
        tip = escape(
            f"{bar.label}: {chart.value_text(bar)}" + (f" ({bar.note})" if bar.note else "")
        )
        shape = (
            f'<rect x="{x0:.1f}" y="{y + 5}" width="{max(x1 - x0, 2):.1f}" height="{row_h - 10}" '
            f'rx="3" fill="{colour}"'
            + (' fill-opacity="0.55" stroke="' + colour + '"' if bar.value is None else "")
            + f"><title>{tip}</title></rect>"
        )
        if bar.value is not None:
            shown = chart.format(bar.value)
        else:
            low = chart.format(bar.low, compact=True) if bar.low is not None else "…"
            high = chart.format(bar.high, compact=True) if bar.high is not None else "…"
            shown = f"{low}–{high}{'+' if bar.open_ended else ''}"
        value = f'<text class="value" x="{x1 + 6:.1f}" y="{y + row_h / 2 + 4:.1f}">{escape(shown)}</text>'
        body = label + shape + value
        if bar.href:
            body = f'<a href="{escape(bar.href)}">{body}</a>'
        out.append(f"<g>{body}</g>")
    out.append(
        f'<line class="axis" x1="{label_w}" y1="{axis_y}" x2="{label_w + plot_w}" y2="{axis_y}"/>'
    )
    if len(chart.series) > 1:
        lx = label_w
        for i, name in enumerate(chart.series):
            out.append(
                f'<rect x="{lx}" y="{height - 16}" width="12" height="12" rx="2" '
                f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            )
            out.append(f'<text class="legend" x="{lx + 17}" y="{height - 6}">{escape(name)}</text>')
            lx += 28 + 8 * len(name)
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------- data sets


@dataclass
class SalaryFigure:
    """A salary figure's numbers and what it is about."""

    iri: str
    role: str
    value: float | None
    low: float | None
    high: float | None
    currency: str
    period: str | None
    statistic: str | None
    place: str | None
    level: str | None
    publishers: list[str]
    open_ended: bool


def salary_figures(
    backend: Backend, role: str | None = None, timeout: float | None = None
) -> list[SalaryFigure]:
    """Every salary figure (of one role, if given), in one query."""
    subs = {"role": URIRef(role)} if role else None
    figures: dict[str, SalaryFigure] = {}
    for row in select(backend, SALARY_QUERY, subs, timeout=timeout):
        iri = str(row["fig"])
        fig = figures.get(iri)
        if fig is None:
            fig = figures[iri] = SalaryFigure(
                iri,
                str(row["role"]),
                _num(row.get("value")),
                _num(row.get("min")),
                _num(row.get("max")),
                str(row.get("currency", "")),
                _opt(row.get("period")),
                _opt(row.get("stat")),
                _opt(row.get("place")),
                _opt(row.get("level")),
                [],
                bool(isinstance(row.get("open"), Literal) and row["open"].toPython() is True),
            )
        publisher = _opt(row.get("publisher"))
        if publisher and publisher not in fig.publishers:
            fig.publishers.append(publisher)
    return sorted(figures.values(), key=lambda f: f.iri)


def _opt(node: Node | None) -> str | None:
    return str(node) if node is not None else None


def _groups(figures: Iterable[SalaryFigure]) -> dict[tuple[str, str | None], list[SalaryFigure]]:
    groups: dict[tuple[str, str | None], list[SalaryFigure]] = {}
    for fig in figures:
        groups.setdefault((fig.currency, fig.period), []).append(fig)
    return groups


def _figure_bar(fig: SalaryFigure, name: str, label: Label, base: str) -> Bar:
    note = ", ".join(
        filter(
            None,
            [
                label(URIRef(fig.statistic)) if fig.statistic else None,
                " · ".join(label(URIRef(p)) for p in fig.publishers),
            ],
        )
    )
    return Bar(
        name,
        fig.value,
        fig.low,
        fig.high,
        href=iri_to_path(fig.iri, base),
        note=note,
        open_ended=fig.open_ended,
    )


def _mid(bar: Bar) -> float:
    if bar.value is not None:
        return bar.value
    return ((bar.low or 0) + (bar.high or bar.low or 0)) / 2


def salary_charts(
    figures: list[SalaryFigure],
    label: Label,
    *,
    role_label: str | None = None,
    base: str = BASE,
    prefix: str = "salary",
) -> list[Chart]:
    """Charts of salary figures by location and by experience level, one per currency and period."""
    charts = []
    who = role_label or "all roles"
    for kind in ("location", "level"):
        for (currency, period), figs in sorted(_groups(figures).items(), key=lambda kv: str(kv[0])):
            chosen = [f for f in figs if (f.place if kind == "location" else f.level)]
            if not chosen:
                continue
            bars = []
            for fig in chosen:
                what = label(URIRef(fig.place if kind == "location" else fig.level))
                publisher = label(URIRef(fig.publishers[0])) if fig.publishers else ""
                name = f"{what} ({publisher})" if publisher else what
                if role_label is None:
                    name = f"{name} · {label(URIRef(fig.role))}"
                bars.append(_figure_bar(fig, name, label, base))
            bars.sort(key=_mid, reverse=True)
            period_text = label(URIRef(period)) if period else ""
            unit_text = f"{currency} {period_text}".strip()
            title = f"Salary by {'location' if kind == 'location' else 'experience level'} — {who} ({unit_text})"
            desc = (
                f"{len(bars)} salary figures for {who} in {unit_text}, highest first; "
                "solid bars are single values, lighter bars are ranges."
            )
            charts.append(Chart(f"{prefix}-{kind}-{len(charts)}", title, desc, currency, bars))
    return charts


@dataclass
class UniversityFigures:
    """Tuition and rates of one university."""

    iri: str
    in_state: float | None
    out_state: float | None
    currency: str
    admission: float | None
    graduation: float | None


def university_figures(backend: Backend, timeout: float | None = None) -> list[UniversityFigures]:
    """Tuition and rates of every university, in one query."""
    found: dict[str, UniversityFigures] = {}
    for row in select(backend, UNIVERSITY_QUERY, timeout=timeout):
        iri = str(row["u"])
        if iri not in found:
            found[iri] = UniversityFigures(
                iri,
                _num(row.get("in")),
                _num(row.get("out")),
                str(row.get("currency", "USD")),
                _num(row.get("admission")),
                _num(row.get("graduation")),
            )
    return list(found.values())


def university_charts(unis: list[UniversityFigures], label: Label, base: str = BASE) -> list[Chart]:
    """A tuition chart (in-state and out-of-state) and a rates chart (admission and graduation)."""
    charts = []
    ordered = sorted(unis, key=lambda u: label(URIRef(u.iri)).casefold())
    tuition = []
    for uni in ordered:
        name, href = label(URIRef(uni.iri)), iri_to_path(uni.iri, base)
        if uni.in_state is not None:
            tuition.append(Bar(name, uni.in_state, series=0, href=href, note="in-state"))
        if uni.out_state is not None:
            tuition.append(Bar(name, uni.out_state, series=1, href=href, note="out-of-state"))
    if tuition:
        currency = next((u.currency for u in unis if u.currency), "USD")
        charts.append(
            Chart(
                "tuition",
                f"University tuition ({currency} per year)",
                f"In-state and out-of-state tuition of {len(ordered)} universities.",
                currency,
                tuition,
                ["in-state tuition", "out-of-state tuition"],
            )
        )
    rates = []
    for uni in ordered:
        name, href = label(URIRef(uni.iri)), iri_to_path(uni.iri, base)
        if uni.admission is not None:
            rates.append(Bar(name, uni.admission, series=0, href=href, note="admission rate"))
        if uni.graduation is not None:
            rates.append(Bar(name, uni.graduation, series=1, href=href, note="graduation rate"))
    if rates:
        charts.append(
            Chart(
                "rates",
                "University admission and graduation rates (%)",
                f"Admission and graduation rates of {len(ordered)} universities, in percent.",
                "%",
                rates,
                ["admission rate", "graduation rate"],
            )
        )
    return charts


def growth_chart(
    backend: Backend, label: Label, base: str = BASE, timeout: float | None = None
) -> Chart | None:
    """A chart of the growth statistics (percent change), or None when there are none."""
    bars = []
    seen = set()
    for row in select(backend, GROWTH_QUERY, timeout=timeout):
        iri = str(row["g"])
        if iri in seen:
            continue
        seen.add(iri)
        years = f"{row['start']}–{row['end']}" if "start" in row and "end" in row else ""
        projected = (
            isinstance(row.get("projected"), Literal) and row["projected"].toPython() is True
        )
        note = ", ".join(filter(None, [years, "projected" if projected else "measured"]))
        bars.append(
            Bar(label(row["g"]), _num(row["change"]), href=iri_to_path(iri, base), note=note)
        )
    if not bars:
        return None
    bars.sort(key=lambda b: b.value or 0, reverse=True)
    return Chart(
        "growth",
        "Growth statistics (% change)",
        f"{len(bars)} stated or projected percentage changes.",
        "%",
        bars,
    )
