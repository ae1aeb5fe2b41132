// Small shared pieces: links, avatars, presence dots, buttons, rich text.
import { useEffect, useRef, type AnchorHTMLAttributes, type ReactNode } from "react";
import { navigate } from "./lib/router";
import { displayName, timeAgo } from "./lib/state";
import { useApp } from "./lib/store";
import type { UserSummary } from "./lib/types";

export function Link({ to, children, ...rest }: { to: string; children: ReactNode } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  return (
    <a
      href={to}
      {...rest}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        rest.onClick?.(e);
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

const COLORS = ["#0f766e", "#7c3aed", "#b45309", "#be123c", "#1d4ed8", "#15803d", "#a21caf", "#0369a1"];

export function Avatar({ user, size = 40, presence = false }: { user: UserSummary | null; size?: number; presence?: boolean }) {
  const name = displayName(user);
  const color = COLORS[(user?.username ?? "").split("").reduce((a, c) => a + c.charCodeAt(0), 0) % COLORS.length];
  return (
    <span className="avatar" style={{ width: size, height: size, fontSize: size * 0.42, background: color }} aria-hidden="true">
      {user?.avatar_thumbnail_url ? <img src={user.avatar_thumbnail_url} alt="" /> : name.slice(0, 1).toUpperCase()}
      {presence && user && <PresenceDot userId={user.id} />}
    </span>
  );
}

export function PresenceDot({ userId }: { userId: string }) {
  const status = useApp((s) => s.presence[userId]?.status);
  if (!status || status === "offline") return null;
  return <span className={`dot ${status}`} title={status} aria-label={status} role="img" data-presence={status} />;
}

export function UserLink({ user }: { user: UserSummary | null }) {
  if (!user) return <span>someone</span>;
  return (
    <Link to={`/u/${user.username}`} className="user-link">
      {displayName(user)}
    </Link>
  );
}

export function Time({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={new Date(iso).toLocaleString()}>
      {timeAgo(iso)}
    </time>
  );
}

/** Server-sanitized HTML with #hashtags and @mentions turned into in-app links. */
export function RichText({ html, className }: { html: string; className?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const linked = html
    .split(/(<[^>]+>)/)
    .map((part) =>
      part.startsWith("<")
        ? part
        : part
            .replace(/(^|[^\w&])#([\p{L}\p{N}_]{1,50})/gu, (_m, pre, tag) => `${pre}<a href="/tags/${encodeURIComponent(tag.toLowerCase())}" data-internal>#${tag}</a>`)
            .replace(/(^|[^\w])@([A-Za-z0-9_]{3,30})/g, (_m, pre, name) => `${pre}<a href="/u/${name}" data-internal>@${name}</a>`),
    )
    .join("");
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const click = (e: MouseEvent) => {
      const a = (e.target as HTMLElement).closest("a[data-internal]");
      if (a) {
        e.preventDefault();
        navigate(a.getAttribute("href")!);
      }
    };
    el.addEventListener("click", click);
    return () => el.removeEventListener("click", click);
  }, []);
  return <div ref={ref} className={className ?? "rich"} dangerouslySetInnerHTML={{ __html: linked }} />;
}

export function Spinner({ label = "Loading" }: { label?: string }) {
  return (
    <div className="spinner" role="status">
      <span className="visually-hidden">{label}</span>
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function ErrorText({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

/** Calls `onMore` when the sentinel scrolls into view (infinite scroll on cursors). */
export function MoreSentinel({ onMore, active }: { onMore: () => void; active: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  const cb = useRef(onMore);
  cb.current = onMore;
  useEffect(() => {
    if (!active || !ref.current) return;
    const io = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && cb.current(), { rootMargin: "400px" });
    io.observe(ref.current);
    return () => io.disconnect();
  }, [active]);
  return <div ref={ref} className="sentinel" aria-hidden="true" />;
}
