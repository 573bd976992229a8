"""The organiser's allocation form; field-level validation only."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from ..allocation import Objective
from ..forms import Form
from .services import SEED_LIMIT, Options

OBJECTIVE_LABELS = {
    Objective.FAIR: _l("Fair: a place for as many people as possible, then the best ranks"),
    Objective.LINEAR: _l("Linear: the best total of ranks"),
    Objective.RANK_MAXIMAL: _l("Rank-maximal: the most 1st choices, then 2nd …"),
}


class AllocationForm(Form):
    """Objective, lottery seed and optional mix rule of a run."""

    objective = SelectField(
        _l("Objective"),
        choices=[SelectChoice(o.value, label) for o, label in OBJECTIVE_LABELS.items()],
        default=Objective.FAIR.value,
    )
    seed = IntegerField(
        _l("Lottery seed (empty: random)"), validators=[Optional(), NumberRange(min=0, max=SEED_LIMIT - 1)]
    )
    mix_attribute = SelectField(
        _l("Mix rule"),
        choices=[
            SelectChoice("", _l("none")),
            SelectChoice("city", _l("at most N per city in a group")),
            SelectChoice("category", _l("at most N per participant category in a group")),
        ],
        default="",
    )
    max_per_group = IntegerField(_l("N (per group)"), validators=[Optional(), NumberRange(min=1, max=1000)])

    def options(self) -> Options:
        """Return the run's options as service input."""
        attribute = self.mix_attribute.data or None
        return Options(
            objective=Objective(self.objective.data),
            seed=self.seed.data,
            mix_attribute=attribute,
            max_per_group=self.max_per_group.data if attribute else None,
        )
