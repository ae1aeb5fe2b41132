// Chat: rooms by activity with unread counts and previews; a room with replies, reactions,
// edits, deletes, attachments, typing indicators, read receipts and search.
import { useEffect, useMemo, useRef, useState } from "react";
import { openRoom } from "../App";
import { api, describe } from "../lib/api";
import { realtime } from "../lib/realtime";
import { navigate } from "../lib/router";
import { displayName, mergeMessages, plain, roomWithMessage } from "../lib/state";
import { store, toast, useApp } from "../lib/store";
import type { Member, Message, Page, Profile, Room, UserSummary } from "../lib/types";
import { SENT_EVENT, sendChat } from "../lib/writes";
import { Icon } from "../icons";
import { Avatar, Empty, Link, RichText, Spinner, Time } from "../ui";

const REACTIONS = ["👍", "❤️", "😂", "🎉", "😮"];

function roomTitle(room: Room, myId: string): string {
  if (room.name) return room.name;
  const others = (room.members ?? []).filter((m) => m.user.id !== myId).map((m) => displayName(m.user));
  return others.join(", ") || "Conversation";
}

function otherMember(room: Room, myId: string): UserSummary | null {
  return room.members?.find((m) => m.user.id !== myId)?.user ?? null;
}

export default function ChatScreen({ roomId }: { roomId: string | null }) {
  const me = useApp((s) => s.me)!;
  const unread = useApp((s) => s.chatUnread);
  const [rooms, setRooms] = useState<Room[] | null>(null);

  async function loadRooms() {
    const page = await api.get<Page<Room>>("/realtime/chat/rooms", { limit: 50 });
    const detailed = await Promise.all(page.items.map((r) => (r.name ? r : api.get<Room>(`/realtime/chat/rooms/${r.id}`).catch(() => r))));
    setRooms(detailed);
  }
  useEffect(() => void loadRooms().catch((e) => toast(describe(e), "error")), []);
  useEffect(() => {
    const offs = [
      realtime.on("chat:new_message", (e: { roomId: string; message: Message }) =>
        setRooms((list) => {
          if (!list) return list;
          if (!list.some((r) => r.id === e.roomId)) {
            void loadRooms();
            return list;
          }
          return roomWithMessage(list, e.roomId, e.message, e.roomId === roomId);
        }),
      ),
      realtime.on("chat:room_updated", () => void loadRooms()),
      realtime.onConnect(() => void loadRooms()),
    ];
    return () => offs.forEach((o) => o());
  }, [roomId]);

  async function newChat() {
    const name = prompt("Start a conversation with (username):");
    if (!name) return;
    try {
      const user = await api.get<Profile>(`/users/${encodeURIComponent(name.trim().replace(/^@/, ""))}`);
      const room = await api.post<Room>("/realtime/chat/rooms", { type: "direct", member_ids: [user.id] });
      await realtime.emit("chat:join", { roomId: room.id });
      await loadRooms();
      navigate(`/chat/${room.id}`);
    } catch (e) {
      toast(describe(e), "error");
    }
  }

  return (
    <div className={`chat${roomId ? " has-room" : ""}`}>
      <aside className="card rooms" aria-label="Conversations">
        <div className="rooms-head">
          <h1>Chat</h1>
          <button className="primary small" onClick={newChat}>New</button>
        </div>
        {rooms === null ? <Spinner /> : rooms.length === 0 ? <Empty>No conversations yet.</Empty> : (
          <ul>
            {rooms.map((r) => {
              const other = r.type === "direct" ? otherMember(r, me.id) : null;
              const count = unread[r.id] ?? r.unread_count;
              return (
                <li key={r.id}>
                  <Link to={`/chat/${r.id}`} className={`room${r.id === roomId ? " active" : ""}`} aria-current={r.id === roomId ? "page" : undefined} data-room-id={r.id}>
                    <Avatar user={other ?? { id: r.id, username: roomTitle(r, me.id), display_name: null, avatar_thumbnail_url: null }} presence={!!other} />
                    <span className="room-text">
                      <span className="room-top"><strong>{roomTitle(r, me.id)}</strong>{r.last_message && <Time iso={r.last_message.created_at} />}</span>
                      <span className="muted preview">{r.last_message ? `${r.last_message.sender?.id === me.id ? "You: " : ""}${r.last_message.deleted ? "deleted message" : plain(r.last_message.text) || r.last_message.type}` : "No messages yet"}</span>
                    </span>
                    {count > 0 && r.id !== roomId && <span className="badge" aria-label={`${count} unread`}>{count > 99 ? "99+" : count}</span>}
                  </Link>
                </li>
              );
            })}
          </ul>
        )}
      </aside>
      {roomId ? (
        <RoomView key={roomId} roomId={roomId} onRead={() => setRooms((l) => l && l.map((r) => (r.id === roomId ? { ...r, unread_count: 0 } : r)))} />
      ) : (
        <section className="card room-view empty-room"><Empty>Pick a conversation, or start a new one.</Empty></section>
      )}
    </div>
  );
}

function RoomView({ roomId, onRead }: { roomId: string; onRead: () => void }) {
  const me = useApp((s) => s.me)!;
  const [room, setRoom] = useState<Room | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [before, setBefore] = useState<string | null>(null);
  const [members, setMembers] = useState<Member[]>([]);
  const [typing, setTyping] = useState<Record<string, number>>({});
  const [text, setText] = useState("");
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [editing, setEditing] = useState<Message | null>(null);
  const [search, setSearch] = useState<string | null>(null);
  const [found, setFound] = useState<Message[] | null>(null);
  const list = useRef<HTMLOListElement>(null);
  const typingSent = useRef(0);

  function markRead(msgs: Message[]) {
    const last = [...msgs].reverse().find((m) => !m.pending);
    if (!last || document.hidden) return;
    void realtime.emit("chat:read", { roomId, messageId: last.id });
    store.set((s) => ({ chatUnread: { ...s.chatUnread, [roomId]: 0 } }));
    onRead();
  }

  useEffect(() => {
    openRoom.id = roomId;
    let live = true;
    (async () => {
      try {
        const detail = await api.get<Room>(`/realtime/chat/rooms/${roomId}`);
        const page = await api.get<{ items: Message[]; before_cursor: string | null }>(`/realtime/chat/rooms/${roomId}/messages`, { limit: 50 });
        if (!live) return;
        setRoom(detail);
        setMembers(detail.members ?? []);
        setMessages(page.items);
        setBefore(page.before_cursor);
        await realtime.emit("chat:join", { roomId });
        markRead(page.items);
      } catch (e) {
        toast(describe(e), "error");
      }
    })();
    const offs = [
      realtime.on("chat:new_message", (e: { roomId: string; message: Message }) => {
        if (e.roomId !== roomId) return;
        setMessages((l) => mergeMessages(l, [e.message]));
        setTyping((t) => {
          const rest = { ...t };
          if (e.message.sender) delete rest[e.message.sender.id];
          return rest;
        });
        if (e.message.sender?.id !== me.id) markRead([e.message]);
      }),
      realtime.on("chat:message_updated", (e: { roomId: string; message: Message }) => e.roomId === roomId && setMessages((l) => mergeMessages(l, [e.message]))),
      realtime.on("chat:user_typing", (e: { roomId: string; userId: string; isTyping: boolean }) => {
        if (e.roomId !== roomId || e.userId === me.id) return;
        setTyping((t) => {
          const rest = { ...t };
          if (e.isTyping) rest[e.userId] = Date.now();
          else delete rest[e.userId];
          return rest;
        });
      }),
      realtime.on("chat:read_receipt", (e: { roomId: string; userId: string; seq: number }) => {
        if (e.roomId !== roomId) return;
        setMembers((ms) => ms.map((m) => (m.user.id === e.userId ? { ...m, last_read_seq: Math.max(m.last_read_seq ?? 0, e.seq) } : m)));
      }),
      realtime.onConnect(() => {
        void realtime.emit("chat:join", { roomId });
        api.get<{ items: Message[] }>(`/realtime/chat/rooms/${roomId}/messages`, { limit: 50 }).then((p) => setMessages((l) => mergeMessages(l, p.items)), () => undefined);
      }),
    ];
    const sent = (e: Event) => {
      const { item, result } = (e as CustomEvent).detail;
      if (item.kind === "chat" && item.payload.roomId === roomId) setMessages((l) => mergeMessages(l.filter((m) => m.id !== item.id), [result as Message]));
    };
    window.addEventListener(SENT_EVENT, sent);
    const visible = () => !document.hidden && setMessages((l) => (markRead(l), l));
    document.addEventListener("visibilitychange", visible);
    const sweep = setInterval(() => setTyping((t) => Object.fromEntries(Object.entries(t).filter(([, at]) => Date.now() - at < 12000))), 3000);
    return () => {
      live = false;
      openRoom.id = null;
      offs.forEach((o) => o());
      window.removeEventListener(SENT_EVENT, sent);
      document.removeEventListener("visibilitychange", visible);
      clearInterval(sweep);
      realtime.send("chat:typing", { roomId, isTyping: false });
    };
  }, [roomId]);

  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length]);

  function onType(value: string) {
    setText(value);
    const now = Date.now();
    if (value && now - typingSent.current > 3000) {
      typingSent.current = now;
      realtime.send("chat:typing", { roomId, isTyping: true });
    } else if (!value && typingSent.current) {
      typingSent.current = 0;
      realtime.send("chat:typing", { roomId, isTyping: false });
    }
  }

  async function send() {
    const body = text.trim();
    if (!body) return;
    setText("");
    typingSent.current = 0;
    if (editing) {
      try {
        const m = await api.patch<Message>(`/realtime/chat/messages/${editing.id}`, { message: body });
        setMessages((l) => mergeMessages(l, [m]));
      } catch (e) {
        toast(describe(e), "error");
      }
      setEditing(null);
      return;
    }
    const reply = replyTo;
    setReplyTo(null);
    try {
      const { result, key } = await sendChat(roomId, body, reply?.id);
      const pending: Message = {
        id: key, room_id: roomId, seq: Number.MAX_SAFE_INTEGER, sender: me, type: "text", text: body.replace(/</g, "&lt;"),
        reply_to: reply ? { id: reply.id, sender_id: reply.sender?.id ?? null, text: plain(reply.text), deleted: false } : null,
        attachment: null, reactions: [], client_id: key, created_at: new Date().toISOString(), edited_at: null, deleted: false, pending: true,
      };
      setMessages((l) => mergeMessages(l, [result ?? pending]));
    } catch (e) {
      toast(describe(e), "error");
    }
  }

  async function attach(files: FileList | null) {
    const file = files?.[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    try {
      const m = await api.upload<Message>(`/realtime/chat/rooms/${roomId}/attachments`, form);
      setMessages((l) => mergeMessages(l, [m]));
    } catch (e) {
      toast(describe(e), "error");
    }
  }

  async function older() {
    if (!before) return;
    const page = await api.get<{ items: Message[]; before_cursor: string | null }>(`/realtime/chat/rooms/${roomId}/messages`, { before, limit: 50 });
    setMessages((l) => mergeMessages(l, page.items));
    setBefore(page.before_cursor);
  }

  const readers = useMemo(() => members.filter((m) => m.user.id !== me.id && m.last_read_seq !== null), [members, me.id]);
  const myLast = [...messages].reverse().find((m) => m.sender?.id === me.id && !m.pending);
  const seenBy = myLast ? readers.filter((m) => (m.last_read_seq ?? 0) >= myLast.seq) : [];
  const typers = Object.keys(typing).map((id) => members.find((m) => m.user.id === id)?.user).filter(Boolean) as UserSummary[];
  const title = room ? roomTitle({ ...room, members }, me.id) : "Conversation";

  return (
    <section className="card room-view" aria-label={title}>
      <header className="room-head">
        <Link to="/chat" className="back" aria-label="Back to conversations">←</Link>
        <h2>{title}</h2>
        <span className="muted">{members.length > 2 ? `${members.length} members` : ""}</span>
        <span className="spacer" />
        <button className="ghost small" onClick={() => { setSearch(search === null ? "" : null); setFound(null); }} aria-expanded={search !== null}>Search</button>
      </header>
      {search !== null && (
        <form className="room-search" onSubmit={async (e) => {
          e.preventDefault();
          try {
            setFound((await api.get<Page<Message>>("/realtime/chat/search", { q: search, room_id: roomId, limit: 20 })).items);
          } catch (err) {
            toast(describe(err), "error");
          }
        }}>
          <input type="search" aria-label="Search this conversation" value={search} onChange={(e) => setSearch(e.target.value)} autoFocus />
          <button className="secondary small">Find</button>
          {found && (found.length ? <ul className="found">{found.map((m) => <li key={m.id}><strong>{displayName(m.sender)}</strong>: {plain(m.text)} <Time iso={m.created_at} /></li>)}</ul> : <p className="muted">Nothing found.</p>)}
        </form>
      )}
      <ol className="messages" ref={list} aria-live="polite">
        {before && <li className="older"><button className="link" onClick={older}>Older messages</button></li>}
        {messages.map((m) => {
          const mine = m.sender?.id === me.id;
          if (m.type === "system") return <li key={m.id} className="system muted">{plain(m.text)}</li>;
          return (
            <li key={m.id} className={`message${mine ? " mine" : ""}${m.pending ? " pending" : ""}`} data-message-id={m.id}>
              {!mine && <Avatar user={m.sender} size={28} presence />}
              <div className="bubble">
                {!mine && <span className="sender">{displayName(m.sender)}</span>}
                {m.reply_to && <blockquote className="reply-preview">{m.reply_to.deleted ? "deleted message" : m.reply_to.text}</blockquote>}
                {m.deleted ? <em className="muted">This message was deleted</em> : <RichText html={m.text} />}
                {m.attachment && !m.deleted && (m.attachment.kind === "file" ? (
                  <a href={m.attachment.url} className="file" download><Icon name="clip" size={16} /> {m.attachment.name ?? "file"}</a>
                ) : m.attachment.kind === "video" ? <video src={m.attachment.url} controls /> : <img src={m.attachment.thumbnail_url ?? m.attachment.url} alt="Attachment" />)}
                <span className="stamp muted">
                  {m.pending ? "waiting to send" : <Time iso={m.created_at} />}
                  {m.edited_at && " · edited"}
                </span>
                {m.reactions.length > 0 && (
                  <span className="reactions">
                    {m.reactions.map((r) => (
                      <button key={r.emoji} className={`reaction${r.user_ids.includes(me.id) ? " mine" : ""}`} onClick={() => api.post<Message>(`/realtime/chat/messages/${m.id}/reactions`, { emoji: r.emoji }).then((x) => setMessages((l) => mergeMessages(l, [x])))} aria-label={`${r.emoji} ${r.count}`}>
                        {r.emoji} {r.count}
                      </button>
                    ))}
                  </span>
                )}
                {!m.deleted && !m.pending && (
                  <span className="message-tools">
                    {REACTIONS.slice(0, 3).map((e) => (
                      <button key={e} className="ghost tiny" aria-label={`React ${e}`} onClick={() => api.post<Message>(`/realtime/chat/messages/${m.id}/reactions`, { emoji: e }).then((x) => setMessages((l) => mergeMessages(l, [x])))}>{e}</button>
                    ))}
                    <button className="ghost tiny" onClick={() => setReplyTo(m)}>Reply</button>
                    {mine && <button className="ghost tiny" onClick={() => { setEditing(m); setText(plain(m.text)); }}>Edit</button>}
                    {mine && <button className="ghost tiny" onClick={() => api.delete<Message>(`/realtime/chat/messages/${m.id}`).then((x) => setMessages((l) => mergeMessages(l, [x])))}>Delete</button>}
                  </span>
                )}
              </div>
            </li>
          );
        })}
      </ol>
      <div className="room-status" aria-live="polite">
        {typers.length > 0 && <span className="typing" data-testid="typing">{typers.map(displayName).join(", ")} {typers.length === 1 ? "is" : "are"} typing…</span>}
        {seenBy.length > 0 && <span className="seen" data-testid="seen">Seen by {seenBy.map((m) => displayName(m.user)).join(", ")}</span>}
      </div>
      {(replyTo || editing) && (
        <div className="replying">
          {editing ? "Editing message" : `Replying to ${displayName(replyTo!.sender)}: ${plain(replyTo!.text).slice(0, 80)}`}
          <button className="ghost tiny" onClick={() => { setReplyTo(null); setEditing(null); setText(""); }} aria-label="Cancel">×</button>
        </div>
      )}
      <form className="message-form" onSubmit={(e) => { e.preventDefault(); void send(); }}>
        <label className="icon-button" title="Attach a file">
          <Icon name="clip" /><span className="visually-hidden">Attach a file</span>
          <input type="file" hidden onChange={(e) => { void attach(e.target.files); e.target.value = ""; }} />
        </label>
        <input aria-label="Message" placeholder="Write a message" value={text} onChange={(e) => onType(e.target.value)} maxLength={4000} />
        <button className="primary" disabled={!text.trim()}>Send</button>
      </form>
    </section>
  );
}
