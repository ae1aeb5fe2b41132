// Settings: profile and privacy, password, signed-in devices, notification preferences,
// quiet hours, digest, and Web Push for this browser.
import { useEffect, useState, type FormEvent } from "react";
import { api, describe } from "../lib/api";
import { store, toast, useApp } from "../lib/store";
import type { OwnProfile, Session } from "../lib/types";
import { ErrorText, Time } from "../ui";

interface Prefs {
  categories: Record<string, { in_app: boolean; push: boolean; email: boolean }>;
  category_enabled: Record<string, boolean>;
  quiet_hours: { start: string; end: string } | null;
  digest: string;
}

function ProfileForm() {
  const me = useApp((s) => s.me)!;
  async function save(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    try {
      const updated = await api.patch<OwnProfile>("/users/me", {
        display_name: String(f.get("display_name") || "") || null,
        bio: String(f.get("bio") || "") || null,
        privacy: { profile_visibility: f.get("visibility"), allow_messages: f.get("allow_messages"), show_online_status: f.get("online") === "on" },
      });
      store.set({ me: updated });
      toast("Profile saved");
    } catch (err) {
      toast(describe(err), "error");
    }
  }
  return (
    <form className="card form" onSubmit={save}>
      <h2>Profile and privacy</h2>
      <label>Display name<input name="display_name" defaultValue={me.display_name ?? ""} maxLength={60} /></label>
      <label>Bio<textarea name="bio" defaultValue={me.bio ?? ""} maxLength={500} rows={3} /></label>
      <label>Who can see my profile
        <select name="visibility" defaultValue={String(me.privacy.profile_visibility)}>
          <option value="public">Everyone</option><option value="friends">Friends</option><option value="private">Only me</option>
        </select>
      </label>
      <label>Who can message me
        <select name="allow_messages" defaultValue={String(me.privacy.allow_messages)}>
          <option value="everyone">Everyone</option><option value="friends">Friends</option><option value="nobody">Nobody</option>
        </select>
      </label>
      <label className="check"><input type="checkbox" name="online" defaultChecked={me.privacy.show_online_status !== false} /> Show when I am online</label>
      <button className="primary">Save profile</button>
    </form>
  );
}

function PasswordForm() {
  const [error, setError] = useState<string | null>(null);
  async function change(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setError(null);
    try {
      const r = await api.post<{ sessions_revoked: number }>("/users/me/password", { current_password: f.get("current"), new_password: f.get("new") });
      toast(`Password changed; ${r.sessions_revoked} other device(s) signed out`);
      form.reset();
    } catch (err) {
      setError(describe(err));
    }
  }
  return (
    <form className="card form" onSubmit={change}>
      <h2>Password</h2>
      <label>Current password<input name="current" type="password" autoComplete="current-password" required /></label>
      <label>New password<input name="new" type="password" autoComplete="new-password" required minLength={10} /></label>
      <ErrorText error={error} />
      <button className="primary">Change password</button>
    </form>
  );
}

function Sessions() {
  const [sessions, setSessions] = useState<Session[]>([]);
  const load = () => api.get<Session[] | { items: Session[] }>("/auth/sessions").then((r) => setSessions(Array.isArray(r) ? r : r.items));
  useEffect(() => void load().catch(() => undefined), []);
  return (
    <section className="card">
      <h2>Signed-in devices</h2>
      <ul className="sessions">
        {sessions.map((s) => (
          <li key={s.id}>
            <span>
              <strong>{s.user_agent ? s.user_agent.slice(0, 60) : "Unknown device"}</strong>
              {s.current && <span className="chip">This device</span>}
              <small className="muted block">{s.ip_address ?? ""} · last used <Time iso={s.last_used_at} /></small>
            </span>
            {!s.current && <button className="ghost small" onClick={() => api.delete(`/auth/sessions/${s.id}`).then(load)}>Sign out</button>}
          </li>
        ))}
      </ul>
      <div className="row">
        <button className="ghost" onClick={() => api.post<{ sessions_revoked: number }>("/auth/sessions/revoke-others").then((r) => { toast(`${r.sessions_revoked} device(s) signed out`); return load(); })}>Sign out other devices</button>
        <button className="danger" onClick={() => api.logout()}>Sign out</button>
      </div>
    </section>
  );
}

function urlBase64ToUint8Array(base64: string): Uint8Array {
  const padded = (base64 + "=".repeat((4 - (base64.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function PushToggle() {
  const [state, setState] = useState<"unsupported" | "off" | "on" | "denied">("off");
  useEffect(() => {
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !window.isSecureContext) return setState("unsupported");
    if (Notification.permission === "denied") return setState("denied");
    navigator.serviceWorker.ready.then((r) => r.pushManager.getSubscription()).then((s) => setState(s ? "on" : "off"), () => undefined);
  }, []);
  async function enable() {
    try {
      const { public_key } = await api.get<{ public_key: string }>("/notifications/push/public-key");
      const reg = await navigator.serviceWorker.ready;
      const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: urlBase64ToUint8Array(public_key) as BufferSource });
      await api.post("/notifications/push/subscriptions", sub.toJSON());
      setState("on");
      toast("Push notifications are on for this browser");
    } catch (e) {
      setState(Notification.permission === "denied" ? "denied" : "off");
      toast(describe(e), "error");
    }
  }
  async function disable() {
    const reg = await navigator.serviceWorker.ready;
    const sub = await reg.pushManager.getSubscription();
    if (sub) {
      const mine = await api.get<{ id: string; endpoint: string }[] | { items: { id: string; endpoint: string }[] }>("/notifications/push/subscriptions");
      const list = Array.isArray(mine) ? mine : mine.items;
      const row = list.find((s) => s.endpoint === sub.endpoint);
      if (row) await api.delete(`/notifications/push/subscriptions/${row.id}`);
      await sub.unsubscribe();
    }
    setState("off");
  }
  return (
    <div className="push">
      <strong>Push notifications on this browser</strong>
      {state === "unsupported" && <p className="muted">This browser (or a page not served over HTTPS) cannot receive push notifications.</p>}
      {state === "denied" && <p className="muted">Notifications are blocked in the browser's site settings.</p>}
      {state === "off" && <button className="secondary" onClick={enable}>Turn on</button>}
      {state === "on" && <button className="ghost" onClick={disable}>Turn off</button>}
    </div>
  );
}

function NotificationPrefs() {
  const me = useApp((s) => s.me)!;
  const [prefs, setPrefs] = useState<Prefs | null>(null);
  const [quiet, setQuiet] = useState<{ start: string; end: string } | null>(null);
  useEffect(() => {
    api.get<Prefs>("/notifications/preferences").then((p) => { setPrefs(p); setQuiet(p.quiet_hours); }, () => undefined);
  }, []);
  async function toggle(category: string, channel: "in_app" | "push" | "email", value: boolean) {
    try {
      setPrefs(await api.put<Prefs>("/notifications/preferences", { categories: { [category]: { [channel]: value } } }));
    } catch (e) {
      toast(describe(e), "error");
    }
  }
  async function saveQuiet(next: { start: string; end: string } | null) {
    try {
      setPrefs(await api.put<Prefs>("/notifications/preferences", { quiet_hours: next }));
      setQuiet(next);
      toast(next ? `Quiet from ${next.start} to ${next.end}` : "Quiet hours off");
    } catch (e) {
      toast(describe(e), "error");
    }
  }
  async function digest(value: string) {
    try {
      store.set({ me: await api.patch<OwnProfile>("/users/me", { notifications: { digest: value } }) });
      toast("Digest saved");
    } catch (e) {
      toast(describe(e), "error");
    }
  }
  if (!prefs) return null;
  return (
    <section className="card" id="notifications">
      <h2>Notifications</h2>
      <table className="prefs">
        <thead>
          <tr><th scope="col">Category</th><th scope="col">In app</th><th scope="col">Push</th><th scope="col">Email</th></tr>
        </thead>
        <tbody>
          {Object.entries(prefs.categories).map(([cat, ch]) => (
            <tr key={cat}>
              <th scope="row">{cat.replace(/_/g, " ")}</th>
              {(["in_app", "push", "email"] as const).map((c) => (
                <td key={c}><input type="checkbox" aria-label={`${cat} ${c.replace("_", " ")}`} checked={ch[c]} onChange={(e) => toggle(cat, c, e.target.checked)} /></td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      <div className="quiet">
        <label className="check"><input type="checkbox" checked={!!quiet} onChange={(e) => (e.target.checked ? setQuiet({ start: "22:00", end: "07:00" }) : saveQuiet(null))} /> Quiet hours (push and email wait; urgent ones still come)</label>
        {quiet && (
          <div className="row">
            <label>From <input type="time" value={quiet.start} onChange={(e) => setQuiet({ ...quiet, start: e.target.value })} /></label>
            <label>to <input type="time" value={quiet.end} onChange={(e) => setQuiet({ ...quiet, end: e.target.value })} /></label>
            <button className="secondary small" onClick={() => saveQuiet(quiet)}>Save</button>
          </div>
        )}
      </div>
      <label>Email digest
        <select value={me.notifications.digest} onChange={(e) => digest(e.target.value)}>
          <option value="daily">Daily</option><option value="weekly">Weekly</option><option value="never">Never</option>
        </select>
      </label>
      <PushToggle />
    </section>
  );
}

export default function SettingsScreen() {
  useEffect(() => {
    if (location.hash) document.querySelector(location.hash)?.scrollIntoView();
  }, []);
  return (
    <div className="settings">
      <h1 className="page-title">Settings</h1>
      <ProfileForm />
      <NotificationPrefs />
      <Sessions />
      <PasswordForm />
    </div>
  );
}
