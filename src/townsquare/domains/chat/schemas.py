"""Request, response and event models of chat."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, Field, PrivateAttr

from townsquare.core.events import Event
from townsquare.core.ids import Id
from townsquare.domains.accounts.schemas import Strict
from townsquare.domains.posts.schemas import MediaView
from townsquare.domains.social.schemas import UserSummary

RoomType = Literal["direct", "group", "team", "public"]
Who = Literal["everyone", "admins"]
MessageType = Literal["text", "image", "video", "file", "system"]
SendType = Literal["text"]
MAX_TEXT = 4000
ClientId = Annotated[str | None, Field(default=None, min_length=1, max_length=128)]


def _alias(snake: str, camel: str) -> Any:
    return AliasChoices(camel, snake)


class CreateRoom(Strict):
    """`direct` takes exactly one other member; the others take a name."""

    type: RoomType
    name: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    description: Annotated[str | None, Field(max_length=500)] = None
    avatar_url: Annotated[str | None, Field(max_length=500, pattern=r"^https?://")] = Field(
        default=None, validation_alias=_alias("avatar_url", "avatarUrl")
    )
    member_ids: Annotated[list[Id], Field(max_length=200)] = Field(
        default_factory=list, validation_alias=_alias("member_ids", "memberIds")
    )
    hide_history: bool = Field(
        default=False, validation_alias=_alias("hide_history", "hideHistory")
    )


class UpdateRoom(Strict):
    """Only the fields sent change."""

    name: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    description: Annotated[str | None, Field(max_length=500)] = None
    avatar_url: Annotated[str | None, Field(max_length=500, pattern=r"^https?://")] = Field(
        default=None, validation_alias=_alias("avatar_url", "avatarUrl")
    )
    post_policy: Who | None = Field(
        default=None, validation_alias=_alias("post_policy", "postPolicy")
    )
    add_policy: Who | None = Field(default=None, validation_alias=_alias("add_policy", "addPolicy"))
    slow_mode_seconds: Annotated[int | None, Field(ge=0, le=3600)] = Field(
        default=None, validation_alias=_alias("slow_mode_seconds", "slowModeSeconds")
    )
    hide_history: bool | None = Field(
        default=None, validation_alias=_alias("hide_history", "hideHistory")
    )


class AddMember(Strict):
    user_id: Id = Field(validation_alias=_alias("user_id", "userId"))


class SetRole(Strict):
    role: Literal["admin", "member"]


class SendMessage(Strict):
    """REST body of a new message; `client_id` makes a resend return the original."""

    message: Annotated[str, Field(min_length=1, max_length=20000)]
    type: SendType = "text"
    reply_to_id: Id | None = Field(
        default=None, validation_alias=_alias("reply_to_id", "replyToId")
    )
    client_id: ClientId = None


class SocketMessage(SendMessage):
    """`chat:message {roomId, message, type?, replyToId?, client_id}`."""

    room_id: Id = Field(validation_alias=_alias("room_id", "roomId"))


class EditMessage(Strict):
    message: Annotated[str, Field(min_length=1, max_length=20000)]


class React(Strict):
    emoji: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[^\s<>&\"']+$")]


class RoomRef(Strict):
    room_id: Id = Field(validation_alias=_alias("room_id", "roomId"))
    client_id: ClientId = None


class Typing(Strict):
    room_id: Id = Field(validation_alias=_alias("room_id", "roomId"))
    is_typing: bool = Field(default=True, validation_alias=_alias("is_typing", "isTyping"))
    client_id: ClientId = None


class ReadUpTo(Strict):
    """`chat:read {roomId, messageId}`; REST takes the message id in the body alone."""

    message_id: Id = Field(validation_alias=_alias("message_id", "messageId"))


class SocketRead(ReadUpTo):
    room_id: Id = Field(validation_alias=_alias("room_id", "roomId"))
    client_id: ClientId = None


class ChatSettingsIn(Strict):
    read_receipts: bool = Field(validation_alias=_alias("read_receipts", "readReceipts"))


class ChatSettingsOut(BaseModel):
    read_receipts: bool


class ReactionView(BaseModel):
    emoji: str
    count: int
    user_ids: list[Id]


class ParentPreview(BaseModel):
    """What a reply shows of the message it answers."""

    id: Id
    sender_id: Id | None
    text: str
    deleted: bool


class FileView(BaseModel):
    """A document attached to a message; served for download, never shown inline."""

    kind: Literal["file"] = "file"
    name: str
    content_type: str
    url: str
    size: int


class MessageView(BaseModel):
    id: Id
    room_id: Id
    seq: int
    sender: UserSummary | None
    type: MessageType
    text: str
    reply_to: ParentPreview | None
    attachment: MediaView | FileView | None = None
    mentions: list[Id]
    reactions: list[ReactionView]
    client_id: str | None
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    status: Literal["sent", "delivered", "read"] | None = None


class MessageEditView(BaseModel):
    text: str
    edited_at: datetime


class MemberView(BaseModel):
    user: UserSummary
    role: Literal["admin", "member"]
    joined_at: datetime
    last_read_seq: int | None


class RoomView(BaseModel):
    id: Id
    type: RoomType
    name: str | None
    description: str | None
    avatar_url: str | None
    post_policy: Who
    add_policy: Who
    slow_mode_seconds: int
    hide_history: bool
    member_count: int
    last_seq: int
    last_activity_at: datetime
    created_at: datetime
    is_member: bool
    role: Literal["admin", "member"] | None
    unread_count: int
    last_read_seq: int
    last_message: MessageView | None
    members: list[MemberView] | None = None


class MessagePage(BaseModel):
    items: list[MessageView]
    before_cursor: str | None
    after_cursor: str | None


# events (socket names are the seed contract) ---------------------------------------------------


class CamelEvent(Event):
    """Chat events speak camelCase on the wire (the seed's socket contract)."""

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"type"}, by_alias=True)


class NewMessage(CamelEvent):
    type: Literal["chat:new_message"] = "chat:new_message"
    room_id: Id = Field(serialization_alias="roomId")
    message: MessageView
    _wire: dict[str, Any] | None = PrivateAttr(default=None)

    @classmethod
    def serialised(cls, room_id: int, message: MessageView, wire: dict[str, Any]) -> NewMessage:
        """The event with its message already in JSON form (`message.model_dump(mode="json")`)."""
        event = cls(room_id=room_id, message=message)
        event._wire = {"roomId": str(room_id), "message": wire}
        return event

    def payload(self) -> dict[str, Any]:
        if self._wire is not None:
            return self._wire
        return super().payload()


class MessageUpdated(CamelEvent):
    """An edit, a delete (tombstone) or a reaction change, with the message as it is now."""

    type: Literal["chat:message_updated"] = "chat:message_updated"
    room_id: Id = Field(serialization_alias="roomId")
    change: Literal["edited", "deleted", "reactions"]
    message: MessageView


class UserTyping(CamelEvent):
    type: Literal["chat:user_typing"] = "chat:user_typing"
    room_id: Id = Field(serialization_alias="roomId")
    user_id: Id = Field(serialization_alias="userId")
    is_typing: bool = Field(serialization_alias="isTyping")


class Receipt(CamelEvent):
    """A member's read or delivery mark moved to `seq` (message `message_id`)."""

    room_id: Id = Field(serialization_alias="roomId")
    user_id: Id = Field(serialization_alias="userId")
    message_id: Id = Field(serialization_alias="messageId")
    seq: int


class ReadReceipt(Receipt):
    type: Literal["chat:read_receipt"] = "chat:read_receipt"


class DeliveryReceipt(Receipt):
    """A member's device acknowledged messages up to `seq`: their senders may show "delivered"."""

    type: Literal["chat:delivery_receipt"] = "chat:delivery_receipt"


class UnreadChanged(CamelEvent):
    """To the reader's own devices, so each shows the same unread count."""

    type: Literal["chat:unread"] = "chat:unread"
    room_id: Id = Field(serialization_alias="roomId")
    unread_count: int = Field(serialization_alias="unreadCount")
    last_read_seq: int = Field(serialization_alias="lastReadSeq")


class RoomChanged(CamelEvent):
    """Membership or settings changed; sent to the room and to the users concerned."""

    type: Literal["chat:room_updated"] = "chat:room_updated"
    room_id: Id = Field(serialization_alias="roomId")
    change: str
    user_id: Id | None = Field(default=None, serialization_alias="userId")
