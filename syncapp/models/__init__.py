"""Models, one module per idea; everything is importable from syncapp.models."""

from syncapp.models.activity import *  # noqa: F403
from syncapp.models.activity import __all__ as _activity_all
from syncapp.models.review import *  # noqa: F403
from syncapp.models.review import __all__ as _review_all
from syncapp.models.sync import *  # noqa: F403
from syncapp.models.sync import __all__ as _sync_all
from syncapp.models.webhooks import *  # noqa: F403
from syncapp.models.webhooks import __all__ as _webhooks_all

__all__ = [*_sync_all, *_review_all, *_webhooks_all, *_activity_all]
