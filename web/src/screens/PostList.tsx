// A cursor-paged list of posts (profiles, hashtags, search) with live likes and comments.
import { useCallback, useEffect, useReducer, useState } from "react";
import { api, describe } from "../lib/api";
import { emptyFeed, feedReducer } from "../lib/state";
import type { Page, Post } from "../lib/types";
import { Empty, ErrorText, MoreSentinel, Spinner } from "../ui";
import { useLivePosts } from "./Feed";
import { PostCard } from "./PostCard";

export function PostList({ path, query, empty }: { path: string; query?: Record<string, string>; empty: string }) {
  const [state, dispatch] = useReducer(feedReducer, emptyFeed);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const key = path + JSON.stringify(query ?? {});
  const load = useCallback(
    async (cursor: string | null, reset = false) => {
      setLoading(true);
      try {
        const page = await api.get<Page<Post>>(path, { ...query, cursor, limit: 20 });
        dispatch({ type: "page", items: page.items, cursor: page.next_cursor, reset });
        setError(null);
      } catch (e) {
        setError(describe(e));
      } finally {
        setLoading(false);
      }
    },
    [key],
  );
  useEffect(() => void load(null, true), [load]);
  useLivePosts(dispatch, false);
  const change = useCallback((post: Post) => dispatch({ type: "update", post }), []);
  return (
    <div className="posts">
      <ErrorText error={error} />
      {state.items.map((p) => (
        <PostCard key={p.id} post={p} onChange={change} onRemove={(id) => dispatch({ type: "remove", postId: id })} />
      ))}
      {loading && <Spinner />}
      {!loading && !error && state.items.length === 0 && <Empty>{empty}</Empty>}
      <MoreSentinel active={!loading && !state.done && state.items.length > 0} onMore={() => void load(state.cursor)} />
    </div>
  );
}
