// Search posts and people.
import { useEffect, useState } from "react";
import { api, describe } from "../lib/api";
import { navigate, useQuery } from "../lib/router";
import type { Page, UserSummary } from "../lib/types";
import { Avatar, Empty, ErrorText, Link } from "../ui";
import { PostList } from "./PostList";

export default function SearchScreen() {
  const params = useQuery();
  const q = params.get("q") ?? "";
  const tab = params.get("tab") === "people" ? "people" : "posts";
  const [draft, setDraft] = useState(q);
  const [people, setPeople] = useState<UserSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setDraft(q), [q]);
  useEffect(() => {
    if (tab !== "people" || !q) return;
    api.get<Page<UserSummary>>("/search/users", { q, limit: 30 }).then((p) => { setPeople(p.items); setError(null); }, (e) => setError(describe(e)));
  }, [q, tab]);
  const go = (nextQ: string, nextTab: string) => navigate(`/search?q=${encodeURIComponent(nextQ)}&tab=${nextTab}`, true);
  return (
    <div>
      <h1 className="page-title">Search</h1>
      <form className="card search-form" role="search" onSubmit={(e) => { e.preventDefault(); go(draft, tab); }}>
        <input type="search" aria-label="Search words" placeholder="Words, #tags or names" value={draft} onChange={(e) => setDraft(e.target.value)} autoFocus />
        <button className="primary">Search</button>
      </form>
      <div className="tabs" role="tablist">
        {["posts", "people"].map((t) => (
          <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "active" : ""} onClick={() => go(q, t)}>
            {t === "posts" ? "Posts" : "People"}
          </button>
        ))}
      </div>
      {!q ? (
        <Empty>Type something to search.</Empty>
      ) : tab === "posts" ? (
        <PostList path="/search/posts" query={{ q }} empty="No posts match." />
      ) : (
        <>
          <ErrorText error={error} />
          {people.length === 0 ? <Empty>No people match.</Empty> : (
            <ul className="card people">
              {people.map((u) => (
                <li key={u.id}>
                  <Link to={`/u/${u.username}`} className="person">
                    <Avatar user={u} presence /> <span><strong>{u.display_name || u.username}</strong> <span className="muted">@{u.username}</span></span>
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </div>
  );
}
