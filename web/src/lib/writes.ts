// Writes that survive being offline: each carries an idempotency key, is tried at once, and
// goes to the outbox when the network is down, to be sent once on reconnect.
import { api, ApiError, OfflineError } from "./api";
import { Outbox, newKey, type OutboxItem, type SendResult } from "./queue";
import { realtime } from "./realtime";
import { store, toast } from "./store";
import type { Comment, Message, Post } from "./types";

export const outbox = new Outbox();

/** Events the screens listen to when an offline write finally lands. */
export const SENT_EVENT = "outbox:sent";

function owner(): string {
  return store.get().me?.id ?? "";
}

async function deliver(item: OutboxItem): Promise<SendResult> {
  const p = item.payload;
  try {
    let result: unknown;
    switch (item.kind) {
      case "post":
        result = await api.post<Post>("/posts", { ...(p.body as object), client_id: item.id });
        break;
      case "comment":
        result = await api.post<Comment>(`/posts/${p.postId}/comments`, { ...(p.body as object), client_id: item.id });
        break;
      case "like":
        result = await api.put(`/posts/${p.postId}/like`);
        break;
      case "unlike":
        result = await api.delete(`/posts/${p.postId}/like`);
        break;
      case "chat":
        result = await api.post<Message>(`/realtime/chat/rooms/${p.roomId}/messages`, {
          message: p.message,
          reply_to_id: p.replyToId ?? undefined,
          client_id: item.id,
        });
        break;
    }
    window.dispatchEvent(new CustomEvent(SENT_EVENT, { detail: { item, result } }));
    return "sent";
  } catch (e) {
    if (e instanceof OfflineError) throw e;
    if (e instanceof ApiError && (e.status >= 500 || e.status === 429 || e.code === "token_expired")) throw e;
    return "rejected";
  }
}

async function refreshCount(): Promise<void> {
  store.set({ queued: (await outbox.list(owner())).length });
}

export async function flushOutbox(): Promise<void> {
  const me = owner();
  if (!me) return;
  const sent = await outbox.flush(me, deliver, (item) => toast(`A queued ${item.kind} was refused by the server`, "error"));
  await refreshCount();
  if (sent) toast(sent === 1 ? "Sent 1 queued item" : `Sent ${sent} queued items`);
}

export function startOutbox(): () => void {
  void refreshCount();
  const offConnect = realtime.onConnect(() => void flushOutbox());
  const offOnline = realtime.on("network:online", () => void flushOutbox());
  const offChange = outbox.onChange(() => void refreshCount());
  return () => {
    offConnect();
    offOnline();
    offChange();
  };
}

/** Try now; if the network is down keep it for later. Returns the reply, or null when queued. */
async function attempt<T>(kind: OutboxItem["kind"], payload: Record<string, unknown>, call: (key: string) => Promise<T>): Promise<{ result: T | null; key: string }> {
  const key = newKey();
  if (navigator.onLine) {
    try {
      return { result: await call(key), key };
    } catch (e) {
      if (!(e instanceof OfflineError)) throw e;
    }
  }
  await outbox.add(kind, owner(), payload, key);
  toast("You are offline: it will be sent when the connection is back");
  return { result: null, key };
}

export function createPost(body: Record<string, unknown>) {
  return attempt("post", { body }, (key) => api.post<Post>("/posts", { ...body, client_id: key }));
}

export function addComment(postId: string, body: { text: string; parent_id?: string }) {
  return attempt("comment", { postId, body }, (key) =>
    api.post<Comment>(`/posts/${postId}/comments`, { ...body, client_id: key }),
  );
}

export function setLike(postId: string, liked: boolean) {
  return attempt(liked ? "like" : "unlike", { postId }, () =>
    liked
      ? api.put<{ liked: boolean; likes: number }>(`/posts/${postId}/like`)
      : api.delete<{ liked: boolean; likes: number }>(`/posts/${postId}/like`),
  );
}

export function sendChat(roomId: string, message: string, replyToId?: string) {
  return attempt("chat", { roomId, message, replyToId }, (key) =>
    api.post<Message>(`/realtime/chat/rooms/${roomId}/messages`, {
      message,
      reply_to_id: replyToId,
      client_id: key,
    }),
  );
}
