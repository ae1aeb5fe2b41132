// The shell: sign-in gate, navigation, connection banner, and the app-wide live subscriptions.
import { lazy, Suspense, useEffect, useState, type ReactNode } from "react";
import { api } from "./lib/api";
import { realtime } from "./lib/realtime";
import { match, navigate, usePath } from "./lib/router";
import { badge, markRead, upsertNotification } from "./lib/state";
import { resetStore, store, useApp } from "./lib/store";
import type { Message, Notification, OwnProfile, Page, Presence, Room } from "./lib/types";
import { startOutbox } from "./lib/writes";
import { AuthScreen } from "./screens/Auth";
import { FeedScreen } from "./screens/Feed";
import { Icon } from "./icons";
import { Avatar, Link, Spinner } from "./ui";

const PostScreen = lazy(() => import("./screens/PostPage"));
const ProfileScreen = lazy(() => import("./screens/Profile"));
const FriendsScreen = lazy(() => import("./screens/Friends"));
const SearchScreen = lazy(() => import("./screens/Search"));
const TagScreen = lazy(() => import("./screens/Tag"));
const NotificationsScreen = lazy(() => import("./screens/Notifications"));
const SettingsScreen = lazy(() => import("./screens/Settings"));
const ChatScreen = lazy(() => import("./screens/Chat"));

/** Which chat room is on screen, so its messages do not count as unread. */
export const openRoom = { id: null as string | null };

function useSignedIn(): boolean {
  const [signedIn, setSignedIn] = useState(api.signedIn);
  useEffect(() => api.onTokens((t) => setSignedIn(t !== null)), []);
  return signedIn;
}

export function App() {
  const signedIn = useSignedIn();
  const me = useApp((s) => s.me);
  const [failed, setFailed] = useState<string | null>(null);

  useEffect(() => {
    if (!signedIn) {
      realtime.stop();
      resetStore();
      return;
    }
    let stopOutbox: (() => void) | undefined;
    api
      .get<OwnProfile>("/users/me")
      .then(async (profile) => {
        store.set({ me: profile });
        stopOutbox = startOutbox();
        await realtime.start(profile.id);
      })
      .catch((e) => setFailed(String(e?.message ?? e)));
    return () => stopOutbox?.();
  }, [signedIn]);

  useEffect(() => (me ? wireLive(me.id) : undefined), [me?.id]);

  if (!signedIn) return <AuthScreen />;
  if (!me) return failed ? <p className="error">{failed}</p> : <Spinner label="Opening townsquare" />;
  return (
    <Shell>
      <Suspense fallback={<Spinner />}>
        <Routes />
      </Suspense>
    </Shell>
  );
}

function Routes() {
  const path = usePath();
  let m: Record<string, string> | null;
  if (path === "/" || path === "/feed") return <FeedScreen />;
  if ((m = match("/posts/:id", path))) return <PostScreen id={m.id} key={m.id} />;
  if ((m = match("/u/:username", path))) return <ProfileScreen username={m.username} key={m.username} />;
  if ((m = match("/tags/:tag", path))) return <TagScreen tag={m.tag} key={m.tag} />;
  if (path === "/friends") return <FriendsScreen />;
  if (path === "/search") return <SearchScreen />;
  if (path.startsWith("/notifications")) return <NotificationsScreen />;
  if (path === "/settings") return <SettingsScreen />;
  if ((m = match("/chat/:room", path))) return <ChatScreen roomId={m.room} />;
  if (path === "/chat") return <ChatScreen roomId={null} />;
  return (
    <section className="card">
      <h1>Not found</h1>
      <p>
        There is nothing at this address. <Link to="/">Go home</Link>
      </p>
    </section>
  );
}

/** The subscriptions every screen relies on, renewed on each (re)connect. */
function wireLive(myId: string): () => void {
  const offs: (() => void)[] = [];
  const resync = async () => {
    const ack = await realtime.emit<{ unread_count: number; notifications: Notification[] }>("notifications:subscribe", { limit: 30 });
    if (ack.ok && ack.data) store.set({ unread: ack.data.unread_count, notifications: ack.data.notifications, notificationsLoaded: true });
  };
  offs.push(
    realtime.onConnect(async () => {
      void resync();
      void realtime.emit("feed:subscribe", {});
      void realtime.emit("presence:activity", { activity: "browsing" });
      try {
        const rooms = await api.get<Page<Room>>("/realtime/chat/rooms", { limit: 50 });
        const unread: Record<string, number> = {};
        for (const r of rooms.items) {
          unread[r.id] = r.unread_count;
          void realtime.emit("chat:join", { roomId: r.id });
        }
        store.set({ chatUnread: unread });
      } catch {
        // the chat badge waits for the next reconnect
      }
    }),
    realtime.on("recovery:failed", () => void resync()),
    realtime.on("notification:new", ({ notification }: { notification: Notification }) =>
      store.set((s) => ({ notifications: upsertNotification(s.notifications, notification), unread: s.unread + (notification.read ? 0 : 1) })),
    ),
    realtime.on("notification:updated", async ({ notification }: { notification: Notification }) => {
      store.set((s) => ({ notifications: upsertNotification(s.notifications, notification) }));
      const { unread_count } = await api.get<{ unread_count: number }>("/realtime/notifications/unread-count");
      store.set({ unread: unread_count });
    }),
    realtime.on("notification:read", (e: { notification_ids: string[]; all: boolean; unread_count: number }) =>
      store.set((s) => ({ unread: e.unread_count, notifications: markRead(s.notifications, e.all ? "all" : e.notification_ids) })),
    ),
    realtime.on("presence:friend_activity", (p: Presence) => store.set((s) => ({ presence: { ...s.presence, [p.user_id]: p } }))),
    realtime.on("chat:unread", (e: { roomId: string; unreadCount: number }) =>
      store.set((s) => ({ chatUnread: { ...s.chatUnread, [e.roomId]: e.unreadCount } })),
    ),
    realtime.on("chat:new_message", (e: { roomId: string; message: Message }) => {
      if (e.message.sender?.id === myId || openRoom.id === e.roomId) return;
      store.set((s) => ({ chatUnread: { ...s.chatUnread, [e.roomId]: (s.chatUnread[e.roomId] ?? 0) + 1 } }));
    }),
    realtime.on("room:left", (e: { room: string }) => {
      const id = e.room.replace(/^chat:/, "");
      store.set((s) => {
        const rest = { ...s.chatUnread };
        delete rest[id];
        return { chatUnread: rest };
      });
    }),
  );
  let idle: ReturnType<typeof setTimeout> | undefined;
  const active = () => {
    clearTimeout(idle);
    idle = setTimeout(() => realtime.send("presence:activity", { activity: "browsing" }), 60000);
  };
  window.addEventListener("keydown", active);
  window.addEventListener("pointerdown", active);
  return () => {
    offs.forEach((off) => off());
    window.removeEventListener("keydown", active);
    window.removeEventListener("pointerdown", active);
  };
}

function ConnectionBanner() {
  const { connection, retryIn, queued } = useApp((s) => s);
  if (connection === "connected" && !queued) return null;
  let text: string;
  if (connection === "offline") text = "You are offline. Posts, comments, likes and messages are kept and sent when you are back.";
  else if (connection === "reconnecting") text = retryIn ? `Reconnecting… next try in ${retryIn} s` : "Reconnecting…";
  else if (connection === "connecting") text = "Connecting…";
  else text = "Sending what you wrote while offline…";
  return (
    <div className={`banner ${connection}`} role="status" aria-live="polite" data-connection={connection}>
      <span>{text}</span>
      {queued > 0 && <span className="queued" data-testid="queued">{queued} waiting to send</span>}
    </div>
  );
}

function NavItem({ to, label, icon, count, exact }: { to: string; label: string; icon: string; count?: number; exact?: boolean }) {
  const path = usePath();
  const active = exact ? path === to : path.startsWith(to);
  const shown = badge(count ?? 0);
  return (
    <Link to={to} className={`nav-item${active ? " active" : ""}`} aria-current={active ? "page" : undefined} aria-label={shown ? `${label}, ${shown} unread` : label}>
      <span className="icon" aria-hidden="true"><Icon name={icon} /></span>
      <span className="label">{label}</span>
      {shown && <span className="badge" data-testid={`badge-${label.toLowerCase()}`}>{shown}</span>}
    </Link>
  );
}

function Shell({ children }: { children: ReactNode }) {
  const me = useApp((s) => s.me)!;
  const unread = useApp((s) => s.unread);
  const chatUnread = useApp((s) => Object.values(s.chatUnread).reduce((a, b) => a + b, 0));
  const connection = useApp((s) => s.connection);
  const toastMsg = useApp((s) => s.toast);
  return (
    <div className="shell">
      <a href="#main" className="skip">Skip to content</a>
      <header className="topbar">
        <Link to="/" className="brand" aria-label="townsquare home">
          <span className="brand-mark" aria-hidden="true">⌂</span> townsquare
        </Link>
        <form
          className="top-search"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            const q = new FormData(e.currentTarget).get("q");
            if (q) navigate(`/search?q=${encodeURIComponent(String(q))}`);
          }}
        >
          <input name="q" type="search" placeholder="Search posts and people" aria-label="Search" />
        </form>
        <span className={`conn-dot ${connection}`} title={connection} aria-label={`Connection: ${connection}`} role="img" />
        <Link to={`/u/${me.username}`} className="me" aria-label="Your profile">
          <Avatar user={me} size={32} />
        </Link>
      </header>
      <ConnectionBanner />
      <div className="layout">
        <nav className="sidenav" aria-label="Main">
          <NavItem to="/" exact label="Home" icon="home" />
          <NavItem to="/search" label="Search" icon="search" />
          <NavItem to="/notifications" label="Notifications" icon="bell" count={unread} />
          <NavItem to="/chat" label="Chat" icon="chat" count={chatUnread} />
          <NavItem to="/friends" label="Friends" icon="users" />
          <NavItem to="/settings" label="Settings" icon="settings" />
        </nav>
        <main id="main" tabIndex={-1}>
          {children}
        </main>
      </div>
      {toastMsg && (
        <div className={`toast ${toastMsg.kind}`} role={toastMsg.kind === "error" ? "alert" : "status"}>
          {toastMsg.text}
        </div>
      )}
    </div>
  );
}
