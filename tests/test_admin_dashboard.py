"""Event and series dashboards."""

from __future__ import annotations

import re

from app.admin.stats import bar_chart_svg


def test_event_dashboard_shows_fill_waiting_and_requests(client, make_event, make_session, register, as_organiser):
    event = make_event()
    workshop = make_session(event, start_hour=9, groups=[1, 1], title_en="Small groups")
    restricted = make_session(event, start_hour=12, capacity=5, eligible_categories=["mayor"])
    for _ in range(3):
        register(event, workshop, city="Kraków")
    register(event, restricted, category="business", city="Łódź")
    as_organiser("staff", events=[event])
    client.get("/language/en")
    page = client.get(f"/admin/events/{event.id}/dashboard")
    assert page.status_code == 200
    assert "2 / 2" in page.text  # workshop full
    assert "4 registrations" in page.text
    assert "Kraków: <strong>3</strong>" in page.text and "Business: <strong>1</strong>" in page.text
    assert "<svg" in page.text and "<script" not in page.text.split("<svg", 1)[1].split("</svg>")[0]


def test_dashboard_of_another_event_is_404(client, make_event, as_organiser):
    mine, other = make_event(), make_event()
    as_organiser("organiser", events=[mine])
    assert client.get(f"/admin/events/{mine.id}/dashboard").status_code == 200
    assert client.get(f"/admin/events/{other.id}/dashboard").status_code == 404


def test_series_overview_counts_meetings_cities_and_places(client, make_event, make_session, register, as_organiser):
    lodz = make_event(city="Łódź")
    kutno = make_event(city="Kutno")
    workshop = make_session(kutno, groups=[2])
    register(lodz)
    register(kutno, workshop)
    register(kutno, workshop)
    register(kutno, workshop)  # waitlisted: not a place
    as_organiser("admin")
    client.get("/language/en")
    page = client.get(f"/admin/series/{lodz.series_id}/overview")
    assert page.status_code == 200
    assert "2 meetings" in page.text and "2 cities" in page.text
    assert "4 participants" in page.text and "2 workshop places" in page.text


def test_chart_escapes_labels():
    svg = bar_chart_svg([("<script>x</script>", 3)], title='"><img onerror=1>')
    assert "<script>" not in svg and "<img" not in svg


def test_one_day_of_registrations_is_a_bar_among_two_weeks_with_a_table(client, make_event, register, as_organiser):
    event = make_event()
    for _ in range(3):
        register(event)
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    page = client.get(f"/admin/events/{event.id}/dashboard").text
    svg = page.split("<svg", 1)[1].split("</svg>")[0]
    widths = {int(w) for w in re.findall(r'<rect [^>]*width="(\d+)"', svg)}
    assert len(re.findall(r"<rect ", svg)) == 14 and max(widths) <= 32  # not one full-width bar
    assert ">0</text>" in svg and ">3</text>" in svg  # an axis from 0 to the top
    table = page.split("The same as a table", 1)[1].split("</table>")[0]
    assert re.findall(r"<td>(\d+)</td>", table) == ["3"]
