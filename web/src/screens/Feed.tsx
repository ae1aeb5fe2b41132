// Home: the composer, the ranked or latest feed on cursors, and the live "n new posts" bar.
import { useCallback, useEffect, useReducer, useState } from "react";
import { api, describe } from "../lib/api";
import { realtime } from "../lib/realtime";
import { emptyFeed, feedReducer } from "../lib/state";
import { useApp } from "../lib/store";
import type { Comment, Page, Post } from "../lib/types";
import { SENT_EVENT } from "../lib/writes";
import { Empty, ErrorText, MoreSentinel, Spinner } from "../ui";
import { Composer } from "./Composer";
import { PostCard } from "./PostCard";

/** Live updates (likes, comments, deletes) for any list of posts. */
export function useLivePosts(dispatch: (a: Parameters<typeof feedReducer>[1]) => void, acceptNew: boolean) {
  const myId = useApp((s) => s.me?.id);
  useEffect(() => {
    const offs = [
      realtime.on("feed:new_comment", ({ comment }: { comment: Comment }) => dispatch({ type: "comment", comment })),
      realtime.on("feed:likes", (e: { post_id: string; total: number }) => dispatch({ type: "likes", postId: e.post_id, likes: e.total })),
    ];
    if (acceptNew)
      offs.push(
        realtime.on("feed:new_post", ({ post }: { post: Post }) =>
          dispatch(post.author.id === myId ? { type: "own_post", post } : { type: "live_post", post }),
        ),
      );
    const sent = (e: Event) => {
      const { item, result } = (e as CustomEvent).detail;
      if (item.kind === "post") dispatch({ type: "own_post", post: result as Post, replaces: item.id });
    };
    window.addEventListener(SENT_EVENT, sent);
    return () => {
      offs.forEach((off) => off());
      window.removeEventListener(SENT_EVENT, sent);
    };
  }, [dispatch, acceptNew, myId]);
}

export function FeedScreen() {
  const [sort, setSort] = useState<"ranked" | "latest">("ranked");
  const [state, dispatch] = useReducer(feedReducer, emptyFeed);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(
    async (cursor: string | null, reset = false) => {
      setLoading(true);
      setError(null);
      try {
        const page = await api.get<Page<Post>>("/feed", { sort, cursor, limit: 20 });
        dispatch({ type: "page", items: page.items, cursor: page.next_cursor, reset });
      } catch (e) {
        setError(describe(e));
      } finally {
        setLoading(false);
      }
    },
    [sort],
  );

  useEffect(() => {
    void load(null, true);
  }, [load]);
  useLivePosts(dispatch, true);

  const change = useCallback((post: Post) => dispatch({ type: "update", post }), []);

  return (
    <div className="feed">
      <Composer onPosted={(post) => dispatch({ type: "own_post", post })} />
      <div className="tabs" role="tablist" aria-label="Feed order">
        {(["ranked", "latest"] as const).map((s) => (
          <button key={s} role="tab" aria-selected={sort === s} className={sort === s ? "active" : ""} onClick={() => setSort(s)}>
            {s === "ranked" ? "For you" : "Latest"}
          </button>
        ))}
      </div>
      {state.fresh.length > 0 && (
        <button className="new-posts" onClick={() => { dispatch({ type: "show_fresh" }); window.scrollTo({ top: 0, behavior: "smooth" }); }} aria-live="polite" data-testid="new-posts">
          ↑ {state.fresh.length === 1 ? "1 new post" : `${state.fresh.length} new posts`}
        </button>
      )}
      <ErrorText error={error} />
      <div className="posts" aria-busy={loading}>
        {state.items.map((post) => (
          <PostCard key={post.id} post={post} onChange={change} onRemove={(id) => dispatch({ type: "remove", postId: id })} />
        ))}
      </div>
      {loading && <Spinner />}
      {!loading && state.items.length === 0 && !error && <Empty>Nothing here yet. Write the first post, or find people to follow in Search.</Empty>}
      <MoreSentinel active={!loading && !state.done && state.items.length > 0} onMore={() => void load(state.cursor)} />
      {state.done && state.items.length > 0 && <p className="end muted">You are all caught up.</p>}
    </div>
  );
}
