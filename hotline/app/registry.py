"""Every feature's tables on the one metadata: what Alembic and the schema checks compare.

Each feature declares its tables in its own ``models.py`` on ``hotline.base.db.Base``; none of
them imports another feature to get its tables registered. This module, in the app layer, is the
one place that imports them all, so ``Base.metadata`` after ``import hotline.app.registry`` holds
the whole schema (``migrations/env.py`` and the tests that compare it with the migrations).
"""

from __future__ import annotations

from sqlalchemy import MetaData

from hotline.base.db import Base
from hotline.callcontrol import models as callcontrol_models
from hotline.calls import models as calls_models
from hotline.desk import models as desk_models
from hotline.followup import models as followup_models
from hotline.kb import models as kb_models
from hotline.recordings import models as recordings_models
from hotline.tickets import models as tickets_models

MODULES = (
    calls_models,  # call_records, callback_attempts
    tickets_models,  # tickets and their events, links, counters; calendar_years
    desk_models,  # users
    callcontrol_models,  # call_steps
    kb_models,  # kb_articles
    recordings_models,  # recordings, playbacks, quality_scores
    followup_models,  # hand-offs, survey calls
)
"""The features' model modules, each with its tables."""

METADATA: MetaData = Base.metadata
