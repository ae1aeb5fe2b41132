// Pure state transitions of the client (feed, notifications, chat), unit-tested in state.test.ts.
import type { Comment, Message, Notification, Post, Room } from "./types";

export interface FeedState {
  items: Post[];
  /** Live posts that arrived while reading: shown by the "n new posts" bar, not pushed in. */
  fresh: Post[];
  cursor: string | null;
  done: boolean;
  seenComments: string[];
}

export const emptyFeed: FeedState = { items: [], fresh: [], cursor: null, done: false, seenComments: [] };

export type FeedAction =
  | { type: "page"; items: Post[]; cursor: string | null; reset?: boolean }
  | { type: "live_post"; post: Post }
  | { type: "own_post"; post: Post; replaces?: string }
  | { type: "show_fresh" }
  | { type: "comment"; comment: Comment }
  | { type: "likes"; postId: string; likes: number; liked?: boolean }
  | { type: "update"; post: Post }
  | { type: "remove"; postId: string };

function has(state: FeedState, id: string): boolean {
  return state.items.some((p) => p.id === id) || state.fresh.some((p) => p.id === id);
}

function mapPosts(state: FeedState, id: string, change: (p: Post) => Post): FeedState {
  const apply = (list: Post[]) => list.map((p) => (p.id === id ? change(p) : p));
  return { ...state, items: apply(state.items), fresh: apply(state.fresh) };
}

export function feedReducer(state: FeedState, action: FeedAction): FeedState {
  switch (action.type) {
    case "page": {
      const base = action.reset ? [] : state.items;
      const known = new Set(base.map((p) => p.id));
      const items = [...base, ...action.items.filter((p) => !known.has(p.id))];
      return {
        ...state,
        items,
        fresh: action.reset ? [] : state.fresh,
        cursor: action.cursor,
        done: action.cursor === null,
      };
    }
    case "live_post":
      if (has(state, action.post.id)) return state;
      return { ...state, fresh: [action.post, ...state.fresh] };
    case "own_post": {
      const items = state.items.filter((p) => p.id !== action.replaces && p.id !== action.post.id);
      const fresh = state.fresh.filter((p) => p.id !== action.post.id);
      return { ...state, items: [action.post, ...items], fresh };
    }
    case "show_fresh": {
      const known = new Set(state.fresh.map((p) => p.id));
      return { ...state, items: [...state.fresh, ...state.items.filter((p) => !known.has(p.id))], fresh: [] };
    }
    case "comment": {
      if (state.seenComments.includes(action.comment.id)) return state;
      const seenComments = [...state.seenComments.slice(-499), action.comment.id];
      const next = mapPosts(state, action.comment.post_id, (p) => ({
        ...p,
        stats: { ...p.stats, comments: p.stats.comments + 1 },
      }));
      return { ...next, seenComments };
    }
    case "likes":
      return mapPosts(state, action.postId, (p) => ({
        ...p,
        liked_by_me: action.liked ?? p.liked_by_me,
        stats: { ...p.stats, likes: action.likes },
      }));
    case "update":
      return mapPosts(state, action.post.id, () => action.post);
    case "remove":
      return {
        ...state,
        items: state.items.filter((p) => p.id !== action.postId),
        fresh: state.fresh.filter((p) => p.id !== action.postId),
      };
  }
}

/** The bell's badge: nothing at zero, the count up to 99, then "99+". */
/** Put a comment in a list once: its live event and the POST's reply arrive in either order, and a
 * sent offline draft (`replaces`, or a pending twin with the same text) gives way to it. */
export function withComment(list: Comment[], c: Comment, replaces?: string): Comment[] {
  const rest = list.filter((x) => x.id !== c.id && x.id !== replaces && !(x.pending && !c.pending && x.text === c.text));
  const at = list.findIndex((x) => x.id === c.id);
  if (at >= 0 && rest.length === list.length - 1) return list.map((x) => (x.id === c.id ? c : x));
  return [...rest, c];
}

export function badge(count: number): string {
  if (count <= 0) return "";
  return count > 99 ? "99+" : String(count);
}

/** A new or grown notification group replaces its entry and moves to the top. */
export function upsertNotification(list: Notification[], n: Notification): Notification[] {
  return [n, ...list.filter((x) => x.id !== n.id)];
}

export function markRead(list: Notification[], ids: string[] | "all"): Notification[] {
  return list.map((n) => (ids === "all" || ids.includes(n.id) ? { ...n, read: true } : n));
}

/** Messages in sequence order, one per id; a stored message replaces its pending twin. */
export function mergeMessages(list: Message[], incoming: Message[]): Message[] {
  const byId = new Map<string, Message>();
  const clientIds = new Map<string, string>();
  for (const m of list) {
    byId.set(m.id, m);
    if (m.client_id) clientIds.set(m.client_id, m.id);
  }
  for (const m of incoming) {
    const twin = m.client_id ? clientIds.get(m.client_id) : undefined;
    if (twin && twin !== m.id) byId.delete(twin);
    byId.set(m.id, { ...byId.get(m.id), ...m });
    if (m.client_id) clientIds.set(m.client_id, m.id);
  }
  return [...byId.values()].sort((a, b) => (a.pending === b.pending ? a.seq - b.seq : a.pending ? 1 : -1));
}

/** The room list by latest activity, a room's new message moving it up with its preview. */
export function roomWithMessage(rooms: Room[], roomId: string, message: Message, open: boolean): Room[] {
  const next = rooms.map((r) =>
    r.id === roomId
      ? {
          ...r,
          last_message: message,
          last_seq: Math.max(r.last_seq, message.seq),
          last_activity_at: message.created_at,
          unread_count: open ? r.unread_count : r.unread_count + 1,
        }
      : r,
  );
  return next.sort((a, b) => b.last_activity_at.localeCompare(a.last_activity_at));
}

/** Plain text from the server's sanitized HTML, for previews. */
export function plain(html: string): string {
  return html.replace(/<[^>]*>/g, "").replace(/&nbsp;/g, " ").replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#x27;|&#39;/g, "'");
}

export function timeAgo(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 45) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h`;
  const d = Math.round(h / 24);
  if (d < 7) return `${d} d`;
  return new Date(iso).toLocaleDateString();
}

export function displayName(u: { username: string; display_name: string | null } | null | undefined): string {
  if (!u) return "someone";
  return u.display_name || u.username;
}
