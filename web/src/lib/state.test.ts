import { describe, expect, it } from "vitest";
import { badge, emptyFeed, feedReducer, markRead, mergeMessages, plain, roomWithMessage, upsertNotification, withComment } from "./state";
import type { Comment, Message, Notification, Post, Room } from "./types";

const user = { id: "1", username: "ana", display_name: "Ana", avatar_thumbnail_url: null };
function post(id: string, extra: Partial<Post> = {}): Post {
  return {
    id, author: user, text: id, type: "general", privacy: "public", tags: [], mentions: [], media: [],
    stats: { likes: 0, comments: 0, shares: 0, views: 0 }, liked_by_me: false, is_edited: false,
    created_at: "2026-01-01T00:00:00Z", ...extra,
  };
}

describe("feed", () => {
  it("holds live posts behind the bar until shown, without duplicates", () => {
    let s = feedReducer(emptyFeed, { type: "page", items: [post("1")], cursor: "c1" });
    s = feedReducer(s, { type: "live_post", post: post("2") });
    s = feedReducer(s, { type: "live_post", post: post("2") });
    s = feedReducer(s, { type: "live_post", post: post("1") });
    expect(s.items.map((p) => p.id)).toEqual(["1"]);
    expect(s.fresh.map((p) => p.id)).toEqual(["2"]);
    s = feedReducer(s, { type: "show_fresh" });
    expect(s.items.map((p) => p.id)).toEqual(["2", "1"]);
    expect(s.fresh).toEqual([]);
  });

  it("appends cursor pages, skipping posts already shown, and notes the end", () => {
    let s = feedReducer(emptyFeed, { type: "page", items: [post("3"), post("2")], cursor: "c" });
    s = feedReducer(s, { type: "page", items: [post("2"), post("1")], cursor: null });
    expect(s.items.map((p) => p.id)).toEqual(["3", "2", "1"]);
    expect(s.done).toBe(true);
    s = feedReducer(s, { type: "page", items: [post("9")], cursor: "x", reset: true });
    expect(s.items.map((p) => p.id)).toEqual(["9"]);
    expect(s.done).toBe(false);
  });

  it("puts an offline post in place of its placeholder once sent", () => {
    let s = feedReducer(emptyFeed, { type: "page", items: [post("1")], cursor: null });
    s = feedReducer(s, { type: "own_post", post: post("key-1", { pending: true }) });
    expect(s.items[0].pending).toBe(true);
    s = feedReducer(s, { type: "own_post", post: post("77"), replaces: "key-1" });
    expect(s.items.map((p) => p.id)).toEqual(["77", "1"]);
  });

  it("counts each live comment once and sets like totals", () => {
    let s = feedReducer(emptyFeed, { type: "page", items: [post("1")], cursor: null });
    const c = { id: "c1", post_id: "1" } as Comment;
    s = feedReducer(s, { type: "comment", comment: c });
    s = feedReducer(s, { type: "comment", comment: c });
    expect(s.items[0].stats.comments).toBe(1);
    s = feedReducer(s, { type: "likes", postId: "1", likes: 12 });
    expect(s.items[0].stats.likes).toBe(12);
    s = feedReducer(s, { type: "remove", postId: "1" });
    expect(s.items).toEqual([]);
  });
});

describe("notifications", () => {
  it("shows 99+ past 99 and nothing at zero", () => {
    expect([badge(0), badge(7), badge(99), badge(100), badge(5000)]).toEqual(["", "7", "99", "99+", "99+"]);
  });

  it("replaces a grown group in place and moves it to the top", () => {
    const n = (id: string, count = 1) => ({ id, count, read: false }) as Notification;
    const list = upsertNotification([n("a"), n("b")], n("b", 3));
    expect(list.map((x) => [x.id, x.count])).toEqual([["b", 3], ["a", 1]]);
    expect(markRead(list, ["a"]).map((x) => x.read)).toEqual([false, true]);
    expect(markRead(list, "all").every((x) => x.read)).toBe(true);
  });
});

describe("chat", () => {
  const msg = (id: string, seq: number, extra: Partial<Message> = {}) => ({ id, seq, client_id: null, created_at: `2026-01-01T00:00:0${seq}Z`, ...extra }) as Message;

  it("orders by seq, merges updates and replaces a pending twin by client_id", () => {
    let list = mergeMessages([], [msg("2", 2), msg("1", 1)]);
    list = mergeMessages(list, [msg("key", Number.MAX_SAFE_INTEGER, { client_id: "key", pending: true })]);
    expect(list.map((m) => m.id)).toEqual(["1", "2", "key"]);
    list = mergeMessages(list, [msg("3", 3, { client_id: "key" })]);
    expect(list.map((m) => m.id)).toEqual(["1", "2", "3"]);
    list = mergeMessages(list, [msg("2", 2, { deleted: true })]);
    expect(list.find((m) => m.id === "2")?.deleted).toBe(true);
  });

  it("moves a room up with its preview and counts unread unless it is open", () => {
    const room = (id: string, at: string) => ({ id, last_activity_at: at, unread_count: 0, last_seq: 0, last_message: null }) as unknown as Room;
    const rooms = [room("a", "2026-01-02"), room("b", "2026-01-01")];
    const next = roomWithMessage(rooms, "b", msg("9", 4, { created_at: "2026-01-03" }), false);
    expect(next.map((r) => r.id)).toEqual(["b", "a"]);
    expect(next[0].unread_count).toBe(1);
    expect(roomWithMessage(rooms, "b", msg("9", 4, { created_at: "2026-01-03" }), true)[0].unread_count).toBe(0);
  });

  it("turns sanitized HTML into preview text", () => {
    expect(plain("<p>Tom &amp; <b>Jerry</b></p>")).toBe("Tom & Jerry");
  });
});

describe("comments", () => {
  const base = { post_id: "p", parent_id: null, author: user, replies: 0, is_edited: false, created_at: "2026-01-01T00:00:00Z" };
  const c = (id: string, text: string, extra: Partial<Comment> = {}): Comment => ({ ...base, id, text, ...extra });

  it("lists a comment once whichever of its live event and the POST reply comes first", () => {
    const live = withComment([], c("9", "Nice pace!"));
    expect(withComment(live, c("9", "Nice pace!")).map((x) => x.id)).toEqual(["9"]);
    const older = [c("1", "first")];
    expect(withComment(withComment(older, c("9", "x")), c("9", "x")).map((x) => x.id)).toEqual(["1", "9"]);
  });

  it("replaces an offline draft by its sent comment, by key or by its pending twin", () => {
    const draft = c("key-1", "later", { pending: true });
    expect(withComment([c("1", "a"), draft], c("9", "later"), "key-1").map((x) => x.id)).toEqual(["1", "9"]);
    expect(withComment([draft], c("9", "later")).map((x) => x.id)).toEqual(["9"]);
    expect(withComment([draft], c("9", "other")).map((x) => x.id)).toEqual(["key-1", "9"]);
  });
});
