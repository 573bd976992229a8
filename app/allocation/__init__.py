"""Pure allocation engine for ranked workshop choices (no Flask, no SQLAlchemy)."""

from app.allocation.algorithm import allocate, lottery_key, lottery_order, objective_value
from app.allocation.baselines import first_come, serial_dictatorship
from app.allocation.errors import AllocationError, InstanceError, Problem
from app.allocation.explain import Explanation, Reason, explain
from app.allocation.model import Assignment, Group, Instance, MixRule, Objective, Participant, Result, Workshop
from app.allocation.serialization import (
    instance_fingerprint,
    instance_from_dict,
    instance_to_dict,
    result_digest,
    result_to_dict,
)
from app.allocation.stats import Figures, figures
from app.allocation.validation import validate, violations

__all__ = [
    "AllocationError",
    "Assignment",
    "Explanation",
    "Figures",
    "Group",
    "Instance",
    "InstanceError",
    "MixRule",
    "Objective",
    "Participant",
    "Problem",
    "Reason",
    "Result",
    "Workshop",
    "allocate",
    "explain",
    "figures",
    "first_come",
    "instance_fingerprint",
    "instance_from_dict",
    "instance_to_dict",
    "lottery_key",
    "lottery_order",
    "objective_value",
    "result_digest",
    "result_to_dict",
    "serial_dictatorship",
    "validate",
    "violations",
]
