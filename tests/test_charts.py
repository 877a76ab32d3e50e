"""Charts: scales, escaping, and the charts on the role, university and /charts pages."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mlkg.charts import Bar, Chart, nice_step, render_svg

SVG = "{http://www.w3.org/2000/svg}"


def test_nice_steps() -> None:
    assert nice_step(143180) == 50000 and nice_step(9) == 2 and nice_step(344) == 100


def test_svg_is_well_formed_accessible_and_escaped() -> None:
    chart = Chart(
        "c1",
        "Pay <b>",
        "desc & more",
        "USD",
        [
            Bar("<script>x</script>", 100.0, href="/salary/a"),
            Bar("range", low=50.0, high=150.0, open_ended=True),
        ],
    )
    svg = render_svg(chart)
    root = ET.fromstring(svg)  # parses: nothing unescaped
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Pay <b>"
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "label"]
    assert labels == ["<script>x</script>", "range"]
    values = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "value"]
    assert values == ["$100", "$50–$150+"]
    assert "<script>" not in svg


def test_bars_are_scaled_to_the_axis() -> None:
    svg = ET.fromstring(render_svg(Chart("c", "t", "d", "%", [Bar("a", 50.0), Bar("b", 100.0)])))
    widths = [float(r.get("width")) for r in svg.iter(f"{SVG}rect")]
    assert abs(widths[1] - 2 * widths[0]) < 0.5


def test_role_page_has_salary_charts(browse_client) -> None:
    html = browse_client.get("/role/machine-learning-engineer").get_data(as_text=True)
    assert "Salary by location — machine learning engineer (USD per year)" in html
    assert "Salary by experience level" in html
    assert '<a href="/salary/fixture-zurich">' in html  # bars link to their figure
    assert "Zürich" in html and "$50,000" in html


def test_university_class_page_has_tuition_and_rates(browse_client) -> None:
    html = browse_client.get("/classes/University").get_data(as_text=True)
    assert "University tuition (USD per year)" in html and "$37,931" in html
    assert "admission and graduation rates" in html and "89%" in html


def test_charts_page(browse_client) -> None:
    response = browse_client.get("/charts")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<svg") >= 3 and "<script" not in html.split("</head>")[1]


def test_charts_on_the_real_graph(queries_app) -> None:
    html = queries_app.test_client().get("/charts").get_data(as_text=True)
    assert "Salary by location — machine learning engineer" in html
    assert "Salary by experience level — machine learning engineer" in html
    assert "University tuition" in html
