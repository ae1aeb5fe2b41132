// A profile as the viewer may see it, with friend, follow, block, mute and message actions.
import { useEffect, useState } from "react";
import { api, ApiError, describe } from "../lib/api";
import { navigate } from "../lib/router";
import { useApp, toast } from "../lib/store";
import type { Profile, Relationship, Room } from "../lib/types";
import { Avatar, ErrorText, Spinner } from "../ui";
import { PostList } from "./PostList";

export default function ProfileScreen({ username }: { username: string }) {
  const me = useApp((s) => s.me)!;
  const [profile, setProfile] = useState<Profile | null>(null);
  const [rel, setRel] = useState<Relationship | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [requestId, setRequestId] = useState<string | null>(null);
  const self = username.toLowerCase() === me.username.toLowerCase();

  async function load() {
    try {
      setProfile(await api.get<Profile>(`/users/${encodeURIComponent(username)}`));
      if (!self) setRel(await api.get<Relationship>(`/users/${encodeURIComponent(username)}/relationship`));
    } catch (e) {
      setError(e instanceof ApiError && e.status === 404 ? "This profile does not exist or is not visible to you." : describe(e));
    }
  }
  useEffect(() => void load(), [username]);

  async function act(run: () => Promise<unknown>, done: string) {
    try {
      await run();
      toast(done);
      await load();
    } catch (e) {
      toast(describe(e), "error");
    }
  }

  async function findIncoming(): Promise<string | null> {
    const page = await api.get<{ items: { id: string; sender: { username: string } }[] }>("/friends/requests/incoming", { limit: 100 });
    return page.items.find((r) => r.sender.username.toLowerCase() === username.toLowerCase())?.id ?? null;
  }
  async function findOutgoing(): Promise<string | null> {
    const page = await api.get<{ items: { id: string; receiver: { username: string } }[] }>("/friends/requests/outgoing", { limit: 100 });
    return page.items.find((r) => r.receiver.username.toLowerCase() === username.toLowerCase())?.id ?? null;
  }

  useEffect(() => {
    if (rel?.request_received) findIncoming().then(setRequestId, () => undefined);
  }, [rel?.request_received]);

  async function message() {
    if (!profile) return;
    try {
      const room = await api.post<Room>("/realtime/chat/rooms", { type: "direct", member_ids: [profile.id] });
      navigate(`/chat/${room.id}`);
    } catch (e) {
      toast(describe(e), "error");
    }
  }

  if (error) return <section className="card"><h1>@{username}</h1><ErrorText error={error} /></section>;
  if (!profile) return <Spinner />;
  const u = encodeURIComponent(profile.username);
  return (
    <div className="profile">
      <section className="card profile-head">
        <Avatar user={profile} size={88} presence />
        <div className="profile-info">
          <h1>{profile.display_name || profile.username}</h1>
          <p className="muted">@{profile.username}{profile.location ? ` · ${profile.location}` : ""}</p>
          {profile.bio && <p className="bio">{profile.bio}</p>}
          <ul className="stats">
            <li><strong>{profile.stats.posts}</strong> posts</li>
            <li><strong>{profile.stats.followers}</strong> followers</li>
            <li><strong>{profile.stats.following}</strong> following</li>
          </ul>
          {rel && (
            <div className="actions" aria-label="Actions">
              {rel.is_blocking ? (
                <button className="ghost" onClick={() => act(() => api.delete(`/blocks/${u}`), "Unblocked")}>Unblock</button>
              ) : (
                <>
                  {rel.is_friend ? (
                    <button className="ghost" onClick={() => confirm(`Remove ${profile.username} from your friends?`) && act(() => api.delete(`/friends/${u}`), "Friend removed")}>✓ Friends</button>
                  ) : rel.request_received ? (
                    <button className="primary" onClick={() => act(async () => api.post(`/friends/requests/${requestId ?? (await findIncoming())}/accept`), "You are now friends")}>Accept friend request</button>
                  ) : rel.request_sent ? (
                    <button className="ghost" onClick={() => act(async () => api.delete(`/friends/requests/${await findOutgoing()}`), "Request cancelled")}>Request sent · cancel</button>
                  ) : (
                    <button className="primary" onClick={() => act(() => api.post("/friends/requests", { username: profile.username }), "Friend request sent")}>Add friend</button>
                  )}
                  {rel.is_following ? (
                    <button className="ghost" onClick={() => act(() => api.delete(`/following/${u}`), "Unfollowed")}>Following</button>
                  ) : (
                    <button className="secondary" onClick={() => act(() => api.put(`/following/${u}`), "Following")}>Follow</button>
                  )}
                  <button className="secondary" onClick={message}>Message</button>
                  <button className="ghost" onClick={() => act(() => (rel.is_muting ? api.delete(`/mutes/${u}`) : api.put(`/mutes/${u}`)), rel.is_muting ? "Unmuted" : "Muted")}>{rel.is_muting ? "Unmute" : "Mute"}</button>
                  <button className="ghost danger" onClick={() => confirm(`Block ${profile.username}? You will stop seeing each other.`) && act(() => api.put(`/blocks/${u}`), "Blocked")}>Block</button>
                </>
              )}
              {rel.is_followed_by && <span className="chip">Follows you</span>}
            </div>
          )}
        </div>
      </section>
      <h2 className="section-title">Posts</h2>
      <PostList path={`/users/${u}/posts`} empty={self ? "You have not posted yet." : "No posts you can see yet."} />
    </div>
  );
}
