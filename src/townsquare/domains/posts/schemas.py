"""Request, response and event models of posts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, StringConstraints

from townsquare.core.events import Event
from townsquare.core.ids import Id
from townsquare.domains.accounts.schemas import Strict
from townsquare.domains.social.schemas import UserSummary

PostType = Literal["achievement", "progress", "meal", "general", "challenge"]
POST_TYPES: tuple[PostType, ...] = ("achievement", "progress", "meal", "general", "challenge")
Privacy = Literal["public", "friends", "private"]
ReportReason = Literal[
    "spam",
    "harassment",
    "hate_speech",
    "violence",
    "nudity",
    "misinformation",
    "self_harm",
    "copyright",
    "other",
]
Severity = Literal["low", "medium", "high", "critical"]
MAX_TEXT = 5000
TagName = Annotated[str, StringConstraints(pattern=r"^#?[A-Za-z][A-Za-z0-9_]{0,49}$")]
Line = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]*$", max_length=100)]


class PostMetadata(Strict):
    location: Line | None = None
    mood: Annotated[Line | None, Field(max_length=40)] = None
    activity: Line | None = None


class PostCreate(Strict):
    text: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    type: PostType = "general"
    privacy: Privacy = "public"
    tags: Annotated[list[TagName], Field(max_length=20)] = Field(default_factory=list)
    metadata: PostMetadata | None = None
    media_ids: Annotated[list[Id], Field(max_length=4)] = Field(default_factory=list)
    client_id: Annotated[str | None, Field(min_length=1, max_length=128)] = None


class PostUpdate(Strict):
    text: Annotated[str | None, Field(max_length=MAX_TEXT)] = None
    type: PostType | None = None
    privacy: Privacy | None = None
    tags: Annotated[list[TagName] | None, Field(max_length=20)] = None
    metadata: PostMetadata | None = None


class ShareCreate(Strict):
    message: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    privacy: Privacy = "public"


class CommentCreate(Strict):
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    parent_id: Id | None = None
    client_id: Annotated[str | None, Field(min_length=1, max_length=128)] = None


class CommentUpdate(Strict):
    text: Annotated[str, Field(min_length=1, max_length=2000)]


class ReportCreate(Strict):
    reason: ReportReason
    severity: Severity = "medium"
    details: Annotated[str | None, Field(max_length=1000)] = None


class MediaView(BaseModel):
    id: Id
    kind: Literal["image", "video", "gif"]
    content_type: str
    url: str
    thumbnail_url: str | None
    size: int
    width: int | None
    height: int | None


class PostStats(BaseModel):
    likes: int
    comments: int
    shares: int
    views: int


class PostView(BaseModel):
    """A post as one viewer sees it."""

    id: Id
    author: UserSummary
    text: str
    type: PostType
    privacy: Privacy
    tags: list[str]
    mentions: list[str]
    metadata: dict[str, str]
    media: list[MediaView]
    shared_post: PostView | None = None
    shared_post_id: Id | None = None
    stats: PostStats
    liked_by_me: bool = False
    is_edited: bool
    created_at: datetime
    updated_at: datetime


class PostEditView(BaseModel):
    id: Id
    text: str
    tags: list[str]
    editor_id: Id | None
    created_at: datetime


class CommentView(BaseModel):
    id: Id
    post_id: Id
    parent_id: Id | None
    author: UserSummary
    text: str
    replies: int
    is_edited: bool
    created_at: datetime
    updated_at: datetime


class LikeResult(BaseModel):
    liked: bool
    likes: int


class ViewResult(BaseModel):
    counted: bool
    views: int


class ReportView(BaseModel):
    id: Id
    post_id: Id
    reason: ReportReason
    severity: Severity
    status: str
    created_at: datetime


class FanOutEvent(Event):
    """An event addressed to very many rooms: its payload is built once, not once per room."""

    _payload: dict[str, Any] | None = PrivateAttr(default=None)

    def payload(self) -> dict[str, Any]:
        if self._payload is None:
            self._payload = super().payload()
        return self._payload


class NewPost(FanOutEvent):
    """A post someone may see was published (live feed)."""

    type: Literal["feed:new_post"] = "feed:new_post"
    post: PostView


class NewComment(FanOutEvent):
    """A comment on a post someone may see was published (live feed)."""

    type: Literal["feed:new_comment"] = "feed:new_comment"
    comment: CommentView


class PostMentioned(Event):
    """Told to each user a new post mentions."""

    type: Literal["post:mentioned"] = "post:mentioned"
    post_id: Id
    author_id: Id
    author_username: str


class PostCommented(Event):
    """Told to the post's author (and the parent comment's author for replies)."""

    type: Literal["post:commented"] = "post:commented"
    post_id: Id
    comment_id: Id
    user_id: Id
    username: str


class PostShared(Event):
    """Told to the original post's author."""

    type: Literal["post:shared"] = "post:shared"
    post_id: Id
    share_id: Id
    user_id: Id
    username: str
