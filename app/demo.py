"""Demo data from the two source texts: the Dialogue Session in Łódź and the
"Pracownia miast" touring series with its Sandomierz conference and past meetings."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from .db import utcnow, write_transaction
from .events.models import BookingMode, Event, EventStatus, Group, Partner, Series, Session, SessionKind, Speaker
from .extensions import db
from .i18n import TIMEZONE
from .registration.models import Question, QuestionKind

MIASTA_PARTNERS = [
    "Siemens",
    "Deloitte",
    "Miasto Koluszki",
    "Łódzka Agencja Rozwoju Regionalnego",
    "Bionanopark",
    "Loft Aparts",
    "Łódzka Izba Przemysłowo Handlowa",
    "Phenohorizon",
    "Łódzki Obszar Metropolitalny",
    "Regionalny Związek Pracodawców Prywatnych Ziemi Łódzkiej",
    "Klub 500 - Łódź",
    "Regionalna Izba Budownictwa w Łodzi",
    "Społeczna Akademia Nauk",
    "Centrum Zarządzania Innowacjami i Transferem Technologii",
    "Delia Cosmetics",
    "Eurobuild CEE",
    "Trybeco",
]
MIASTA_CONTENT_PARTNERS = ["Forum Od-nowa", "Centrum Stosunków Międzynarodowych"]
MIASTA_PATRONS = ["Marszałek Województwa Łódzkiego", "Prezydent Miasta Łodzi"]

# Meetings of "Pracownia miast" named in the source text (dates of the 2016
# meetings are not given there; the demo spreads them over the year).
PRACOWNIA_PAST = [
    ("wroclaw-2016", "Wrocław", date(2016, 3, 10), "3"),
    ("sandomierz-2016", "Sandomierz", date(2016, 4, 14), "3"),
    ("starachowice-2016", "Starachowice", date(2016, 5, 12), "3"),
    ("tarnow-2016", "Tarnów", date(2016, 6, 9), "3"),
    ("lublin-2016", "Lublin", date(2016, 9, 15), "3"),
    ("skarzysko-kamienna-2016", "Skarżysko-Kamienna", date(2016, 10, 6), "3"),
    ("poznan-2016", "Poznań", date(2016, 10, 20), "3"),
    ("krakow-2016", "Kraków", date(2016, 11, 17), "3"),
    ("rzeszow-2016", "Rzeszów", date(2016, 12, 1), "3"),
    ("rzeszow-2017", "Rzeszów", date(2017, 3, 29), "3"),
]


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """Return an aware datetime for a Warsaw wall-clock time."""
    return datetime.combine(day, time(hour, minute), tzinfo=TIMEZONE)


def seed_demo_data(today: date | None = None) -> list[str]:
    """Create the demo series and events that are missing; return the created slugs."""
    today = today or utcnow().astimezone(TIMEZONE).date()
    created: list[str] = []
    with write_transaction():
        miasta = _series(
            "miasta-przyszlosci",
            "Miasta Przyszłości",
            "Cities of the Future",
            "Platforma debaty o wyzwaniach rozwojowych polskich miast dla samorządów i ich interesariuszy: "
            "przedsiębiorstw, organizacji pozarządowych, instytucji publicznych i prywatnych oraz ekspertów.",
            "A platform for debate on the development challenges of Polish cities, for local governments and "
            "all their stakeholders: business, NGOs, public and private institutions and experts.",
            "THINKTANK",
        )
        pracownia = _series(
            "pracownia-miast",
            "Pracownia miast",
            "City Lab",
            "Akcja społeczna poświęcona wyzwaniom polskich miast: warsztaty i konferencje o jakości życia w "
            "miastach, przestrzeń dialogu mieszkańców, samorządowców, społeczników, rządu, biznesu i kultury.",
            "A public campaign on the challenges of Polish cities: workshops and conferences on the quality of "
            "urban life, a space for dialogue between residents, local government, activists, government, "
            "business and culture.",
            "Grupa Agora",
        )
        if _missing("v-sesja-dialogu-lodz"):
            _dialogue_session(miasta, today + timedelta(days=45))
            created.append("v-sesja-dialogu-lodz")
        if _missing("pracownia-miast-sandomierz"):
            _sandomierz(pracownia, today + timedelta(days=75))
            _sandomierz_reminders()
            _sandomierz_questions()
            created.append("pracownia-miast-sandomierz")
        for slug_suffix, city, day, edition in PRACOWNIA_PAST:
            slug = f"pracownia-miast-{slug_suffix}"
            if _missing(slug):
                _past_meeting(pracownia, slug, city, day, edition)
                created.append(slug)
        _sandomierz_speakers()
    return created


# The foreign experts the "Pracownia miast" source text names (Nijmegen, Tel Aviv, Amsterdam),
# with what it says they spoke about; bios in Markdown. The source gives no role for the last two.
SANDOMIERZ_SPEAKERS = [
    (
        "Paul Goedknegt",
        "planista miejski",
        "urban planner",
        "Gemeente Nijmegen",
        "O działaniach proekologicznych **Nijmegen**, miasta nagrodzonego tytułem *Zielonej Stolicy Europy 2018*.",
        "On the green policies of **Nijmegen**, *European Green Capital 2018*.",
        ["Nowoczesne technologie w mieście"],
    ),
    (
        "Gilad Uziely",
        "",
        "",
        "Urząd Miasta Tel Awiw",
        "O rozwiązaniach i pozycjonowaniu **Tel Awiwu**, miasta kojarzonego z innowacjami "
        "i przedsiębiorczością, jako globalnej marki.",
        "On how **Tel Aviv**, a city known for innovation and enterprise, positions itself as a global brand.",
        ["Media społecznościowe w komunikacji miasta", "Nowoczesne technologie w mieście"],
    ),
    (
        "Marc de Wit",
        "",
        "",
        "Circle Economy",
        "Dobre praktyki gospodarki obiegowej z miast holenderskich.\n\n"
        "- [Circle Economy](https://www.circle-economy.com), Amsterdam",
        "Good practice of the circular economy from Dutch cities.\n\n"
        "- [Circle Economy](https://www.circle-economy.com), Amsterdam",
        ["Nowoczesne technologie w mieście"],
    ),
]


def _sandomierz_speakers() -> None:
    """Give the Sandomierz conference its speakers (also in a demo database seeded before speakers existed)."""
    event = db.session.execute(select(Event).where(Event.slug == "pracownia-miast-sandomierz")).scalar_one_or_none()
    if event is None or event.speakers:
        return
    sessions = {session.title_pl: session for session in event.sessions}
    for position, (name, role_pl, role_en, organisation, bio_pl, bio_en, titles) in enumerate(SANDOMIERZ_SPEAKERS):
        event.speakers.append(
            Speaker(
                name=name,
                role_pl=role_pl,
                role_en=role_en,
                organisation=organisation,
                bio_pl=bio_pl,
                bio_en=bio_en,
                position=position,
                sessions=[sessions[title] for title in titles if title in sessions],
            )
        )
    technologies = sessions.get("Nowoczesne technologie w mieście")
    if technologies is not None and not technologies.description_pl:
        technologies.description_pl = (
            "Doświadczenia trzech miast:\n\n- **Nijmegen**: ekologia\n- **Tel Awiw**: innowacje i marka miasta\n"
            "- **Amsterdam**: gospodarka obiegowa"
        )
        technologies.description_en = (
            "What three cities learnt:\n\n- **Nijmegen**: ecology\n- **Tel Aviv**: innovation and the city brand\n"
            "- **Amsterdam**: the circular economy"
        )


def _series(slug: str, name_pl: str, name_en: str, desc_pl: str, desc_en: str, organiser: str) -> Series:
    """Return the series with ``slug``, creating it when missing."""
    series = db.session.execute(select(Series).where(Series.slug == slug)).scalar_one_or_none()
    if series is None:
        series = Series(
            slug=slug,
            name_pl=name_pl,
            name_en=name_en,
            description_pl=desc_pl,
            description_en=desc_en,
            organiser_name=organiser,
        )
        db.session.add(series)
        db.session.flush()
    return series


def _missing(slug: str) -> bool:
    """Tell whether no event has ``slug`` yet."""
    return db.session.execute(select(Event.id).where(Event.slug == slug)).first() is None


def _session(
    event: Event,
    kind: SessionKind,
    title_pl: str,
    title_en: str,
    start: datetime,
    end: datetime,
    room: str = "",
    capacity: int | None = None,
    eligible: list[str] | None = None,
    mode: BookingMode = BookingMode.INSTANT,
    groups: list[tuple[str, int, str]] | None = None,
    description_pl: str = "",
    description_en: str = "",
) -> Session:
    """Add a session (with groups whose capacities make up the session's)."""
    session = Session(
        event=event,
        kind=kind,
        title_pl=title_pl,
        title_en=title_en,
        starts_at=start,
        ends_at=end,
        room=room,
        capacity=capacity,
        eligible_categories=eligible or [],
        booking_mode=mode,
        description_pl=description_pl,
        description_en=description_en,
    )
    if groups:
        session.groups = [Group(name=name, capacity=cap, facilitator=facilitator) for name, cap, facilitator in groups]
        session.capacity = sum(cap for _name, cap, _f in groups)
    db.session.add(session)
    return session


def _dialogue_session(series: Series, day: date) -> None:
    """The V Dialogue Session of "Miasta Przyszłości" in Łódź (Bionanopark)."""
    event = Event(
        series=series,
        slug="v-sesja-dialogu-lodz",
        title_pl="V Sesja Dialogu „Miasta Przyszłości”",
        title_en='5th Dialogue Session "Cities of the Future"',
        description_pl=(
            "Coroczna Sesja Dialogu umożliwia samorządowcom spotkanie się we własnym gronie w grupach zawodowych "
            "oraz dyskusję z interesariuszami przy „okrągłym stole”. Osią spotkania jest rozmowa i kontakt "
            "bezpośredni. Tematyczne sesje dialogu pozwalają wszystkim stronom poszerzyć perspektywę i pozyskać "
            "nową wiedzę w nieformalnej atmosferze. Warsztaty poświęcone są optymalizacji zarządzania miastem. "
            "Na zakończenie: wręczenie nagród w corocznym rankingu liderów samorządu prowadzonym przez THINKTANK."
        ),
        description_en=(
            "The yearly Dialogue Session lets local government leaders meet among themselves in professional "
            "groups and discuss with stakeholders at round tables. Conversation and direct contact are at its "
            "heart; thematic dialogue sessions widen everyone's perspective in an informal atmosphere. Workshops "
            "focus on optimising city management. It closes with the awards of THINKTANK's yearly ranking of "
            "local government leaders."
        ),
        edition_label="V",
        city="Łódź",
        venue="Bionanopark, ul. Dubois 114/116",
        starts_at=_at(day, 9, 0),
        ends_at=_at(day, 19, 0),
        registration_opens_at=utcnow() - timedelta(days=1),
        registration_closes_at=_at(day - timedelta(days=2), 23, 59),
        status=EventStatus.PUBLISHED,
        contact_email="sesja@miastaprzyszlosci.example",
    )
    db.session.add(event)
    _session(
        event,
        SessionKind.PLENARY,
        "Otwarcie Sesji Dialogu",
        "Opening of the Dialogue Session",
        _at(day, 9, 30),
        _at(day, 10, 30),
        room="Aula",
    )
    for title_pl, title_en, room in [
        ("Sesja dialogu: optymalizacja zarządzania miastem", "Dialogue session: optimising city management", "Sala A"),
        ("Sesja dialogu: strategie rozwoju samorządów", "Dialogue session: local government strategies", "Sala B"),
        ("Sesja dialogu: rozwiązania biznesowe dla miast", "Dialogue session: business solutions for cities", "Sala C"),
    ]:
        _session(
            event, SessionKind.DIALOGUE, title_pl, title_en, _at(day, 10, 45), _at(day, 12, 15), room=room, capacity=40
        )
    _session(
        event,
        SessionKind.PROFESSIONAL_GROUP,
        "Spotkanie grupy zawodowej: prezydenci, burmistrzowie i wójtowie",
        "Professional group: mayors",
        _at(day, 12, 30),
        _at(day, 13, 30),
        room="Sala A",
        capacity=30,
        eligible=["mayor", "deputy_mayor"],
    )
    _session(
        event,
        SessionKind.PROFESSIONAL_GROUP,
        "Spotkanie grupy zawodowej: sekretarze i skarbnicy miast",
        "Professional group: city secretaries and treasurers",
        _at(day, 12, 30),
        _at(day, 13, 30),
        room="Sala B",
        capacity=30,
        eligible=["city_official"],
    )
    _session(
        event,
        SessionKind.PROFESSIONAL_GROUP,
        "Spotkanie grupy zawodowej: radni",
        "Professional group: councillors",
        _at(day, 12, 30),
        _at(day, 13, 30),
        room="Sala C",
        capacity=30,
        eligible=["councillor"],
    )
    for title_pl, title_en in [
        ("Okrągły stół: inwestycje i rozwój gospodarczy miasta", "Round table: investment and economic development"),
        ("Okrągły stół: jakość życia i usługi publiczne", "Round table: quality of life and public services"),
    ]:
        _session(
            event,
            SessionKind.ROUND_TABLE,
            title_pl,
            title_en,
            _at(day, 14, 15),
            _at(day, 15, 45),
            room="Hala konferencyjna",
            groups=[(f"Stół {n}", 10, "") for n in range(1, 4)],
            description_pl="Samorządowcy przy jednym stole z biznesem, organizacjami pozarządowymi i ekspertami.",
            description_en="Local government at one table with business, NGOs and experts.",
        )
    _session(
        event,
        SessionKind.WORKSHOP,
        "Warsztat: strategie samorządów w praktyce",
        "Workshop: local government strategies in practice",
        _at(day, 16, 0),
        _at(day, 17, 15),
        room="Sala A",
        groups=[("", 12, "Deloitte"), ("", 12, "Siemens")],
    )
    _session(
        event,
        SessionKind.PLENARY,
        "Gala: nagrody Liderów Miast Przyszłości",
        "Gala: Cities of the Future Leaders awards",
        _at(day, 17, 30),
        _at(day, 19, 0),
        room="Aula",
    )
    position = 0
    for role, names in (("partner", MIASTA_PARTNERS), ("content", MIASTA_CONTENT_PARTNERS), ("patron", MIASTA_PATRONS)):
        for name in names:
            event.partners.append(Partner(name=name, role=role, position=position))
            position += 1


def _sandomierz_reminders() -> None:
    """Mayors travel to Sandomierz: a reminder a week before and the day before (registration.reminders)."""
    event = db.session.execute(select(Event).where(Event.slug == "pracownia-miast-sandomierz")).scalar_one()
    event.reminder_hours = [7 * 24, 24]


def _sandomierz(series: Series, day: date) -> None:
    """The 4th "Pracownia miast" conference in Sandomierz, "Miasto w roli głównej"."""
    day2 = day + timedelta(days=1)
    event = Event(
        series=series,
        slug="pracownia-miast-sandomierz",
        title_pl="„Miasto w roli głównej” — konferencja 4. edycji „Pracowni miast”",
        title_en='"The City in the Leading Role" — 4th "City Lab" conference',
        description_pl=(
            "Konferencja inaugurująca 4. edycję „Pracowni miast” (w oryginale 26–27 kwietnia 2017 r.). "
            "Główne tematy: promocja miast poprzez film i media społecznościowe oraz wykorzystanie nowoczesnych "
            "technologii. Dla włodarzy miast — warsztaty w małych grupach (ok. 12 osób) o nowoczesnych metodach "
            "promocji i wykorzystaniu filmu oraz produkcji filmowych do promocji miasta."
        ),
        description_en=(
            'The conference opening the 4th edition of "City Lab" (originally 26–27 April 2017). Topics: '
            "promoting cities through film and social media, and using new technologies. For mayors: workshops "
            "in small groups (about 12 people) on modern promotion and on using film and film productions to "
            "promote a city."
        ),
        edition_label="4",
        city="Sandomierz",
        venue="Sandomierskie Centrum Kultury",
        starts_at=_at(day, 10, 0),
        ends_at=_at(day2, 16, 0),
        registration_opens_at=utcnow() - timedelta(days=1),
        registration_closes_at=_at(day - timedelta(days=3), 23, 59),
        status=EventStatus.PUBLISHED,
        contact_email="pracownia@agora.example",
        max_ranked_choices=3,
    )
    db.session.add(event)
    _session(
        event,
        SessionKind.PLENARY,
        "Otwarcie konferencji „Miasto w roli głównej”",
        'Opening: "The City in the Leading Role"',
        _at(day, 10, 0),
        _at(day, 11, 0),
        room="Sala widowiskowa",
    )
    _session(
        event,
        SessionKind.DIALOGUE,
        "Film i produkcje filmowe w promocji miasta",
        "Film and film productions in city promotion",
        _at(day, 11, 15),
        _at(day, 12, 45),
        room="Sala widowiskowa",
        capacity=200,
    )
    _session(
        event,
        SessionKind.DIALOGUE,
        "Media społecznościowe w komunikacji miasta",
        "Social media in city communication",
        _at(day, 13, 30),
        _at(day, 15, 0),
        room="Sala widowiskowa",
        capacity=200,
    )
    _session(
        event,
        SessionKind.DIALOGUE,
        "Nowoczesne technologie w mieście",
        "New technologies in the city",
        _at(day, 15, 15),
        _at(day, 16, 30),
        room="Sala kameralna",
        capacity=80,
    )
    _session(
        event,
        SessionKind.WORKSHOP,
        "Warsztat dla włodarzy: film w promocji miasta",
        "Mayors' workshop: film in city promotion",
        _at(day2, 9, 30),
        _at(day2, 11, 30),
        room="Sala warsztatowa",
        eligible=["mayor"],
        groups=[("", 12, "Tomasz Wierzbicki"), ("", 12, "Ewa Lipińska")],
    )
    for title_pl, title_en, groups, eligible in [
        (
            "Warsztat: strategia miasta w mediach społecznościowych",
            "Workshop: a city's social media strategy",
            [("", 12, ""), ("", 12, "")],
            ["mayor", "deputy_mayor"],
        ),
        (
            "Warsztat: jak przyciągnąć produkcję filmową do miasta",
            "Workshop: attracting film productions",
            [("", 12, "")],
            ["mayor"],
        ),
        (
            "Warsztat: smart city w praktyce",
            "Workshop: smart city in practice",
            [("", 12, ""), ("", 12, "")],
            ["mayor", "deputy_mayor", "city_official"],
        ),
    ]:
        _session(
            event,
            SessionKind.WORKSHOP,
            title_pl,
            title_en,
            _at(day2, 12, 0),
            _at(day2, 14, 0),
            room="Sale warsztatowe",
            groups=groups,
            eligible=eligible,
            mode=BookingMode.RANKED,
        )
    _session(
        event,
        SessionKind.PLENARY,
        "Podsumowanie i zakończenie",
        "Summary and closing",
        _at(day2, 14, 30),
        _at(day2, 16, 0),
        room="Sala widowiskowa",
    )
    event.partners.append(Partner(name="Grupa Agora", role="organiser", position=0))


def _sandomierz_questions() -> None:
    """The Sandomierz conference's own questions: diet (special category: health), allergies, parking."""
    event_id = db.session.execute(select(Event.id).where(Event.slug == "pracownia-miast-sandomierz")).scalar_one()
    diets = [("Bez ograniczeń", "No restrictions"), ("Wegetariańska", "Vegetarian"), ("Wegańska", "Vegan")]
    diets.append(("Bezglutenowa", "Gluten-free"))
    db.session.add_all(
        [
            Question(
                event_id=event_id,
                position=1,
                kind=QuestionKind.CHOICE,
                label_pl="Dieta podczas lunchu i kolacji",
                label_en="Diet at lunch and dinner",
                options=[{"id": f"o{i}", "pl": pl, "en": en} for i, (pl, en) in enumerate(diets, start=1)],
                is_special_category=True,
            ),
            Question(
                event_id=event_id,
                position=2,
                kind=QuestionKind.SHORT_TEXT,
                label_pl="Alergie pokarmowe lub inne potrzeby",
                label_en="Food allergies or other needs",
                is_special_category=True,
            ),
            Question(
                event_id=event_id,
                position=3,
                kind=QuestionKind.YES_NO,
                label_pl="Przyjadę samochodem (potrzebuję miejsca parkingowego)",
                label_en="I will come by car (I need a parking space)",
            ),
        ]
    )
    db.session.flush()


def _past_meeting(series: Series, slug: str, city: str, day: date, edition: str) -> None:
    """A past meeting of the touring series (registration closed)."""
    event = Event(
        series=series,
        slug=slug,
        title_pl=f"„Pracownia miast” — spotkanie w mieście {city}",
        title_en=f'"City Lab" — meeting in {city}',
        description_pl="Spotkanie z cyklu „Pracownia miast”: innowacje i ekologia w mieście.",
        description_en='A "City Lab" meeting: innovation and ecology in the city.',
        edition_label=edition,
        city=city,
        starts_at=_at(day, 10, 0),
        ends_at=_at(day, 16, 0),
        registration_opens_at=_at(day - timedelta(days=30), 9, 0),
        registration_closes_at=_at(day - timedelta(days=2), 23, 59),
        status=EventStatus.CLOSED,
    )
    db.session.add(event)
    _session(event, SessionKind.PLENARY, "Konferencja", "Conference", _at(day, 10, 0), _at(day, 16, 0))
