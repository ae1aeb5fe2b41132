"""Chat payload shapes (the seed's camelCase, snake_case accepted) and small policy rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from townsquare.domains.chat import policy
from townsquare.domains.chat.actions.rooms import direct_key
from townsquare.domains.chat.models import ChatMember, ChatRoom
from townsquare.domains.chat.schemas import (
    MessageView,
    NewMessage,
    ReadReceipt,
    SocketMessage,
    Typing,
    UserTyping,
)


def test_socket_message_takes_camel_and_snake_case():
    camel = SocketMessage.model_validate(
        {"roomId": "12", "message": "hi", "replyToId": "7", "client_id": "c"}
    )
    snake = SocketMessage.model_validate(
        {"room_id": 12, "message": "hi", "reply_to_id": 7, "client_id": "c"}
    )
    assert camel == snake
    assert camel.room_id == 12 and camel.reply_to_id == 7


@pytest.mark.parametrize(
    "payload",
    [
        {"roomId": "1", "message": "hi", "unknown": 1},
        {"roomId": "1", "message": ""},
        {"roomId": "x", "message": "hi"},
        {"roomId": "1", "message": "hi", "type": "system"},
        {"roomId": "1", "message": "nul\x00"},
        {"roomId": "1", "message": "hi", "client_id": "c" * 129},
    ],
)
def test_socket_message_refuses_bad_payloads(payload):
    with pytest.raises(ValidationError):
        SocketMessage.model_validate(payload)


def test_typing_defaults_to_typing_and_accepts_an_sdk_client_id():
    assert Typing.model_validate({"roomId": "3", "client_id": "k"}).is_typing is True


def _message() -> MessageView:
    return MessageView(
        id=5,
        room_id=3,
        seq=1,
        sender=None,
        type="text",
        text="hi",
        reply_to=None,
        mentions=[],
        reactions=[],
        client_id=None,
        created_at=datetime(2026, 11, 21, tzinfo=UTC),
        edited_at=None,
        deleted=False,
    )


def test_event_payloads_use_the_seed_names_and_string_ids():
    assert NewMessage(room_id=3, message=_message()).payload()["roomId"] == "3"
    assert UserTyping(room_id=3, user_id=9, is_typing=False).payload() == {
        "roomId": "3",
        "userId": "9",
        "isTyping": False,
    }
    assert ReadReceipt(room_id=3, user_id=9, message_id=5, seq=1).payload() == {
        "roomId": "3",
        "userId": "9",
        "messageId": "5",
        "seq": 1,
    }


def test_direct_key_is_the_same_from_both_sides():
    assert direct_key(9, 4) == direct_key(4, 9) == "4:9"


def test_hidden_history_starts_after_joining():
    member = ChatMember(room_id=1, user_id=2, role="member", joined_seq=7, last_read_seq=7)
    assert policy.sees_from(ChatRoom(hide_history=True), member) == 8
    assert policy.sees_from(ChatRoom(hide_history=False), member) == 1


def test_who_may_post_and_add():
    admin = ChatMember(role="admin")
    member = ChatMember(role="member")
    strict = ChatRoom(type="group", post_policy="admins", add_policy="admins")
    open_ = ChatRoom(type="group", post_policy="everyone", add_policy="everyone")
    assert policy.can_post(strict, admin) and not policy.can_post(strict, member)
    assert policy.can_add(open_, member) and not policy.can_add(strict, member)
    assert not policy.can_add(ChatRoom(type="direct", add_policy="everyone"), admin)


def test_a_pre_serialised_new_message_is_the_same_payload() -> None:
    from datetime import UTC, datetime

    from townsquare.domains.chat.schemas import (
        FileView,
        MessageView,
        NewMessage,
        ParentPreview,
        ReactionView,
    )
    from townsquare.domains.social.schemas import UserSummary

    view = MessageView(
        id=123456789012345678,
        room_id=987654321098765432,
        seq=7,
        sender=UserSummary(id=5, username="ana", display_name="Ana", avatar_thumbnail_url=None),
        type="file",
        text="see <b>this</b>",
        reply_to=ParentPreview(id=11, sender_id=None, text="earlier", deleted=False),
        attachment=FileView(name="a.pdf", content_type="application/pdf", url="/m/a", size=3),
        mentions=[5],
        reactions=[ReactionView(emoji="👍", count=1, user_ids=[5])],
        client_id=None,
        created_at=datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC),
        edited_at=None,
        deleted=False,
    )
    plain = NewMessage(room_id=view.room_id, message=view)
    fast = NewMessage.serialised(view.room_id, view, view.model_dump(mode="json"))
    assert fast.payload() == plain.payload()
    assert fast.payload()["message"]["id"] == "123456789012345678"  # ids stay strings
