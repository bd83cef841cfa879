"""Rules on controls.yaml: criteria that exist in the AICPA catalogue, test dates that have happened."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from generator.content import tsc
from generator.content.rules import ERROR, Context, Finding, rule

_FILE = "controls.yaml"


@rule("unknown-criterion", ERROR, "A control mapped to an id that is not an AICPA 2017 Trust Services Criterion "
                                  "(published as is, it would claim a criterion that does not exist).")
def unknown_criterion(ctx: Context) -> Iterator[Finding]:
    for cat_index, category in enumerate(ctx.tc.controls):
        for index, control in enumerate(category.controls):
            for crit_index, criterion in enumerate(control.criteria):
                if criterion not in tsc.CRITERIA:
                    close = difflib.get_close_matches(criterion, list(tsc.CRITERIA), n=1)
                    hint = f"did you mean {close[0]}?" if close else "`trustcenter reference --output -` lists them"
                    yield Finding(_FILE, ("categories", cat_index, "controls", index, "criteria", crit_index),
                                  f"'{criterion}' is not an AICPA 2017 Trust Services Criterion; {hint}", control.id)


@rule("last-tested-in-future", ERROR, "A control's last_tested date is in the future.")
def last_tested_in_future(ctx: Context) -> Iterator[Finding]:
    for cat_index, category in enumerate(ctx.tc.controls):
        for index, control in enumerate(category.controls):
            if control.last_tested and control.last_tested > ctx.today:
                yield Finding(_FILE, ("categories", cat_index, "controls", index, "last_tested"),
                              "last_tested is in the future; use the date of the last test", control.id)
