// Notifications: grouped entries updated in place, mark read one by one or all.
import { useEffect, useState } from "react";
import { api, describe } from "../lib/api";
import { realtime } from "../lib/realtime";
import { navigate } from "../lib/router";
import { markRead } from "../lib/state";
import { store, toast, useApp } from "../lib/store";
import type { Notification, Page } from "../lib/types";
import { Avatar, Empty, Link, Time } from "../ui";

function target(n: Notification): string | null {
  const d = n.data as Record<string, string | undefined>;
  if (d.post_id) return `/posts/${d.post_id}`;
  if (d.room_id) return `/chat/${d.room_id}`;
  if (n.type === "friend_request" || n.type === "friend_accepted") return "/friends";
  if (n.actor) return `/u/${n.actor.username}`;
  return null;
}

export default function NotificationsScreen() {
  const list = useApp((s) => s.notifications);
  const unread = useApp((s) => s.unread);
  const [cursor, setCursor] = useState<string | null>(null);
  const [onlyUnread, setOnlyUnread] = useState(false);

  useEffect(() => {
    api.get<Page<Notification>>("/realtime/notifications", { limit: 30 }).then((p) => {
      store.set({ notifications: p.items, notificationsLoaded: true });
      setCursor(p.next_cursor);
    }, () => undefined);
  }, []);

  async function read(ids: string[] | "all") {
    try {
      const res =
        ids === "all"
          ? await api.put<{ unread_count: number }>("/realtime/notifications/read-all")
          : await api.put<{ unread_count: number }>("/realtime/notifications/read", { notification_ids: ids });
      store.set((s) => ({ unread: res.unread_count, notifications: markRead(s.notifications, ids) }));
    } catch (e) {
      toast(describe(e), "error");
    }
  }

  const shown = onlyUnread ? list.filter((n) => !n.read) : list;
  return (
    <div>
      <div className="page-head">
        <h1 className="page-title">Notifications</h1>
        <label className="check"><input type="checkbox" checked={onlyUnread} onChange={(e) => setOnlyUnread(e.target.checked)} /> Unread only</label>
        <button className="ghost" disabled={unread === 0} onClick={() => read("all")}>Mark all read</button>
        <Link to="/settings#notifications" className="button ghost">Preferences</Link>
      </div>
      {shown.length === 0 ? <Empty>You are all caught up.</Empty> : (
        <ul className="card notifications" aria-live="polite">
          {shown.map((n) => (
            <li key={n.id} className={n.read ? "read" : "unread"} data-notification-id={n.id}>
              <button
                className="notification"
                onClick={() => {
                  if (!n.read) void read([n.id]);
                  const to = target(n);
                  if (to) navigate(to);
                }}
              >
                <span className="stack">
                  {(n.actors.length ? n.actors : n.actor ? [n.actor] : []).slice(0, 3).map((a) => <Avatar key={a.id} user={a} size={32} />)}
                </span>
                <span className="text">
                  <strong>{n.title}</strong>
                  {n.message && <span className="muted block">{n.message}</span>}
                  <small className="muted"><Time iso={n.updated_at} />{n.count > 1 ? ` · ${n.count}` : ""}</small>
                </span>
                {!n.read && <span className="unread-dot" aria-label="unread" />}
              </button>
            </li>
          ))}
        </ul>
      )}
      {cursor && !onlyUnread && (
        <button className="ghost" onClick={async () => {
          const p = await api.get<Page<Notification>>("/realtime/notifications", { limit: 30, cursor });
          store.set((s) => ({ notifications: [...s.notifications, ...p.items.filter((n) => !s.notifications.some((x) => x.id === n.id))] }));
          setCursor(p.next_cursor);
        }}>Older notifications</button>
      )}
      <p className="muted small-print">Updates arrive live {realtime.connected ? "(connected)" : "when you are connected"}.</p>
    </div>
  );
}
