// The post composer: text with #hashtags and @mention autocomplete, media with previews,
// type and privacy; offline posts go to the outbox.
import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import { api, describe } from "../lib/api";
import { useApp } from "../lib/store";
import type { Media, Page, Post, UserSummary } from "../lib/types";
import { createPost } from "../lib/writes";
import { Icon } from "../icons";
import { Avatar, ErrorText } from "../ui";

const TYPES = ["general", "achievement", "progress", "meal", "challenge"];
const PRIVACY: [string, string][] = [
  ["public", "Public"],
  ["friends", "Friends"],
  ["private", "Only me"],
];

export function useMentions(text: string, caret: number) {
  const before = text.slice(0, caret);
  const m = /(^|\s)@([A-Za-z0-9_]{1,30})$/.exec(before);
  return m ? { query: m[2], start: caret - m[2].length - 1 } : null;
}

export function MentionBox({
  value,
  onChange,
  onKeyDown,
  ...rest
}: {
  value: string;
  onChange: (v: string) => void;
  onKeyDown?: (e: KeyboardEvent<HTMLTextAreaElement>) => void;
  placeholder?: string;
  "aria-label": string;
  rows?: number;
  maxLength?: number;
  name?: string;
}) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const [caret, setCaret] = useState(0);
  const [found, setFound] = useState<UserSummary[]>([]);
  const [active, setActive] = useState(0);
  const mention = useMentions(value, caret);
  const query = mention?.query ?? null;

  useEffect(() => {
    if (!query) return setFound([]);
    let live = true;
    const t = setTimeout(() => {
      api
        .get<Page<UserSummary>>("/search/users", { q: query, limit: 5 })
        .then((page) => live && (setFound(page.items), setActive(0)))
        .catch(() => live && setFound([]));
    }, 120);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [query]);
  const open = !!mention && found.length > 0;

  function pick(user: UserSummary) {
    if (!mention) return;
    const next = `${value.slice(0, mention.start)}@${user.username} ${value.slice(caret)}`;
    onChange(next);
    setFound([]);
    const at = mention.start + user.username.length + 2;
    requestAnimationFrame(() => {
      ref.current?.setSelectionRange(at, at);
      setCaret(at);
    });
  }

  return (
    <div className="mention-wrap">
      <textarea
        ref={ref}
        {...rest}
        value={value}
        role="combobox"
        aria-expanded={open}
        aria-controls="mention-list"
        aria-autocomplete="list"
        onChange={(e) => {
          onChange(e.target.value);
          setCaret(e.target.selectionStart);
        }}
        onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
        onKeyDown={(e) => {
          if (open) {
            if (e.key === "ArrowDown" || e.key === "ArrowUp") {
              e.preventDefault();
              setActive((active + (e.key === "ArrowDown" ? 1 : found.length - 1)) % found.length);
              return;
            }
            if (e.key === "Enter" || e.key === "Tab") {
              e.preventDefault();
              pick(found[active]);
              return;
            }
            if (e.key === "Escape") {
              setFound([]);
              return;
            }
          }
          onKeyDown?.(e);
        }}
      />
      {open && (
        <ul className="mentions" id="mention-list" role="listbox" aria-label="People to mention">
          {found.map((u, i) => (
            <li key={u.id} role="option" aria-selected={i === active} className={i === active ? "active" : ""} onMouseDown={(e) => { e.preventDefault(); pick(u); }}>
              <Avatar user={u} size={24} /> <strong>{u.display_name || u.username}</strong> <span className="muted">@{u.username}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Composer({ onPosted }: { onPosted: (post: Post) => void }) {
  const me = useApp((s) => s.me)!;
  const [text, setText] = useState("");
  const [type, setType] = useState("general");
  const [privacy, setPrivacy] = useState("public");
  const [media, setMedia] = useState<(Media & { preview: string })[]>([]);
  const [uploading, setUploading] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const fileRef = useRef<HTMLInputElement>(null);

  async function upload(files: FileList | null) {
    if (!files) return;
    setError(null);
    for (const file of Array.from(files).slice(0, 4 - media.length)) {
      setUploading((n) => n + 1);
      try {
        const form = new FormData();
        form.append("file", file);
        const stored = await api.upload<Media>("/media", form);
        setMedia((list) => [...list, { ...stored, preview: URL.createObjectURL(file) }]);
      } catch (e) {
        setError(describe(e));
      } finally {
        setUploading((n) => n - 1);
      }
    }
    if (fileRef.current) fileRef.current.value = "";
  }

  async function submit() {
    if (!text.trim() && !media.length) return;
    setBusy(true);
    setError(null);
    const body = { text, type, privacy, media_ids: media.map((m) => m.id) };
    try {
      const { result, key } = await createPost(body);
      onPosted(result ?? pendingPost(key, me, body));
      setText("");
      setMedia([]);
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card composer" onSubmit={(e) => { e.preventDefault(); void submit(); }} aria-label="New post">
      <div className="composer-row">
        <Avatar user={me} />
        <MentionBox
          name="text"
          aria-label="What's happening?"
          placeholder={`What's happening, ${me.display_name || me.username}? Use #tags and @mentions`}
          value={text}
          onChange={setText}
          rows={3}
          maxLength={5000}
          onKeyDown={(e) => {
            if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) void submit();
          }}
        />
      </div>
      {media.length > 0 && (
        <ul className="previews" aria-label="Attached media">
          {media.map((m) => (
            <li key={m.id}>
              {m.kind === "video" ? <video src={m.preview} muted /> : <img src={m.preview} alt="Attachment preview" />}
              <button type="button" className="remove" aria-label="Remove attachment" onClick={() => setMedia((l) => l.filter((x) => x.id !== m.id))}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <ErrorText error={error} />
      <div className="composer-bar">
        <label className="icon-button" title="Add photos or video">
          <Icon name="image" />
          <span className="visually-hidden">Add photos or video</span>
          <input ref={fileRef} type="file" accept="image/jpeg,image/png,image/webp,image/gif,video/mp4,video/webm" multiple hidden onChange={(e) => void upload(e.target.files)} />
        </label>
        <select aria-label="Post type" value={type} onChange={(e) => setType(e.target.value)}>
          {TYPES.map((t) => (
            <option key={t} value={t}>
              {t[0].toUpperCase() + t.slice(1)}
            </option>
          ))}
        </select>
        <select aria-label="Who can see this" value={privacy} onChange={(e) => setPrivacy(e.target.value)}>
          {PRIVACY.map(([v, label]) => (
            <option key={v} value={v}>
              {label}
            </option>
          ))}
        </select>
        <span className="spacer" />
        {uploading > 0 && <span className="muted">Uploading…</span>}
        <button className="primary" disabled={busy || uploading > 0 || (!text.trim() && !media.length)}>
          Post
        </button>
      </div>
    </form>
  );
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

export function pendingPost(key: string, me: UserSummary, body: { text: string; type: string; privacy: string }): Post {
  return {
    id: key,
    author: me,
    text: escapeHtml(body.text),
    type: body.type,
    privacy: body.privacy as Post["privacy"],
    tags: [],
    mentions: [],
    media: [],
    stats: { likes: 0, comments: 0, shares: 0, views: 0 },
    liked_by_me: false,
    is_edited: false,
    created_at: new Date().toISOString(),
    pending: true,
  };
}
