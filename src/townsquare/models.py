"""Imports every domain's tables so the metadata (and Alembic) sees the whole schema."""

from townsquare.core.db import Base
from townsquare.domains.accounts import models as accounts_models
from townsquare.domains.chat import models as chat_models
from townsquare.domains.feed import models as feed_models
from townsquare.domains.notifications import models as notifications_models
from townsquare.domains.posts import models as posts_models
from townsquare.domains.social import models as social_models

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "chat_models",
    "feed_models",
    "metadata",
    "notifications_models",
    "posts_models",
    "social_models",
]
