// Friends, pending requests both ways, and suggestions.
import { useEffect, useState } from "react";
import { api, describe } from "../lib/api";
import { toast } from "../lib/store";
import type { Page, UserSummary } from "../lib/types";
import { Avatar, Empty, Link } from "../ui";

interface Request {
  id: string;
  sender: UserSummary;
  receiver: UserSummary;
  message: string | null;
}

function Person({ user, children, note }: { user: UserSummary; children?: React.ReactNode; note?: string }) {
  return (
    <li className="person-row">
      <Link to={`/u/${user.username}`} className="person">
        <Avatar user={user} presence />
        <span>
          <strong>{user.display_name || user.username}</strong> <span className="muted">@{user.username}</span>
          {note && <small className="muted block">{note}</small>}
        </span>
      </Link>
      <span className="row">{children}</span>
    </li>
  );
}

export default function FriendsScreen() {
  const [friends, setFriends] = useState<UserSummary[]>([]);
  const [incoming, setIncoming] = useState<Request[]>([]);
  const [outgoing, setOutgoing] = useState<Request[]>([]);
  const [suggested, setSuggested] = useState<(UserSummary & { mutual_friends: number })[]>([]);

  async function load() {
    const [f, i, o, s] = await Promise.all([
      api.get<Page<UserSummary>>("/friends", { limit: 100 }),
      api.get<Page<Request>>("/friends/requests/incoming", { limit: 100 }),
      api.get<Page<Request>>("/friends/requests/outgoing", { limit: 100 }),
      api.get<(UserSummary & { mutual_friends: number })[]>("/friends/suggestions", { limit: 10 }),
    ]);
    setFriends(f.items);
    setIncoming(i.items);
    setOutgoing(o.items);
    setSuggested(s);
  }
  useEffect(() => void load().catch((e) => toast(describe(e), "error")), []);
  const act = (run: () => Promise<unknown>, done: string) => run().then(() => { toast(done); return load(); }, (e) => toast(describe(e), "error"));

  return (
    <div className="friends">
      <h1 className="page-title">Friends</h1>
      {incoming.length > 0 && (
        <section className="card">
          <h2>Requests</h2>
          <ul className="people">
            {incoming.map((r) => (
              <Person key={r.id} user={r.sender} note={r.message ?? undefined}>
                <button className="primary small" onClick={() => act(() => api.post(`/friends/requests/${r.id}/accept`), "Request accepted")}>Accept</button>
                <button className="ghost small" onClick={() => act(() => api.post(`/friends/requests/${r.id}/decline`), "Request declined")}>Decline</button>
              </Person>
            ))}
          </ul>
        </section>
      )}
      <section className="card">
        <h2>Your friends ({friends.length})</h2>
        {friends.length === 0 ? <Empty>No friends yet: find people in Search or below.</Empty> : (
          <ul className="people">
            {friends.map((u) => <Person key={u.id} user={u} />)}
          </ul>
        )}
      </section>
      {suggested.length > 0 && (
        <section className="card">
          <h2>People you may know</h2>
          <ul className="people">
            {suggested.map((u) => (
              <Person key={u.id} user={u} note={u.mutual_friends ? `${u.mutual_friends} mutual friends` : undefined}>
                <button className="secondary small" onClick={() => act(() => api.post("/friends/requests", { username: u.username }), "Friend request sent")}>Add friend</button>
              </Person>
            ))}
          </ul>
        </section>
      )}
      {outgoing.length > 0 && (
        <section className="card">
          <h2>Sent requests</h2>
          <ul className="people">
            {outgoing.map((r) => (
              <Person key={r.id} user={r.receiver}>
                <button className="ghost small" onClick={() => act(() => api.delete(`/friends/requests/${r.id}`), "Request cancelled")}>Cancel</button>
              </Person>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
