"""Every chat write and the events it publishes after commit, one module per kind of write.

Callers use the package (`from townsquare.domains.chat import actions as chat_actions`); the
modules are `rooms`, `text`, `batch` (the send path and its group commit), `notify`, `messages`
and `receipts`.
"""

from townsquare.domains.chat.actions.batch import (
    Outgoing,
    Sent,
    check_send_message,
    check_send_messages,
    send_alone,
    send_message,
)
from townsquare.domains.chat.actions.messages import (
    check_delete_message,
    check_edit_message,
    check_send_attachment,
    check_send_file,
    check_toggle_reaction,
)
from townsquare.domains.chat.actions.notify import NOTIFY_JOB, NOTIFY_WINDOW_SECONDS
from townsquare.domains.chat.actions.receipts import (
    check_mark_delivered,
    check_mark_read,
    do_set_read_receipts,
)
from townsquare.domains.chat.actions.rooms import (
    MAX_MEMBERS,
    check_add_member,
    check_create_room,
    check_join,
    check_leave,
    check_remove_member,
    check_set_role,
    check_update_room,
)
from townsquare.domains.chat.actions.text import NEEDS_SANITIZER, sanitize_text

__all__ = [
    "MAX_MEMBERS",
    "NEEDS_SANITIZER",
    "NOTIFY_JOB",
    "NOTIFY_WINDOW_SECONDS",
    "Outgoing",
    "Sent",
    "check_add_member",
    "check_create_room",
    "check_delete_message",
    "check_edit_message",
    "check_join",
    "check_leave",
    "check_mark_delivered",
    "check_mark_read",
    "check_remove_member",
    "check_send_attachment",
    "check_send_file",
    "check_send_message",
    "check_send_messages",
    "check_set_role",
    "check_toggle_reaction",
    "check_update_room",
    "do_set_read_receipts",
    "sanitize_text",
    "send_alone",
    "send_message",
]
