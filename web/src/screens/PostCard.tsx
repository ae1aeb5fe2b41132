// One post: author, text with links, media, like and comment actions, edit and delete.
import { useState } from "react";
import { api, describe } from "../lib/api";
import { useApp, toast } from "../lib/store";
import type { Post } from "../lib/types";
import { setLike } from "../lib/writes";
import { Icon } from "../icons";
import { Avatar, Link, RichText, Time, UserLink } from "../ui";
import { plain } from "../lib/state";

const PRIVACY_ICON: Record<string, [string, string]> = {
  public: ["globe", "Public"],
  friends: ["users", "Friends only"],
  private: ["lock", "Only you"],
};

export function PostCard({
  post,
  onChange,
  onRemove,
  full = false,
}: {
  post: Post;
  onChange: (post: Post) => void;
  onRemove?: (id: string) => void;
  full?: boolean;
}) {
  const me = useApp((s) => s.me)!;
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState("");
  const mine = post.author.id === me.id;
  const [icon, privacyLabel] = PRIVACY_ICON[post.privacy] ?? PRIVACY_ICON.public;

  async function toggleLike() {
    const liked = !post.liked_by_me;
    onChange({ ...post, liked_by_me: liked, stats: { ...post.stats, likes: post.stats.likes + (liked ? 1 : -1) } });
    try {
      const { result } = await setLike(post.id, liked);
      if (result) onChange({ ...post, liked_by_me: result.liked, stats: { ...post.stats, likes: result.likes } });
    } catch (e) {
      onChange(post);
      toast(describe(e), "error");
    }
  }

  async function save() {
    try {
      onChange(await api.patch<Post>(`/posts/${post.id}`, { text: draft }));
      setEditing(false);
    } catch (e) {
      toast(describe(e), "error");
    }
  }

  async function remove() {
    if (!confirm("Delete this post?")) return;
    try {
      await api.delete(`/posts/${post.id}`);
      onRemove?.(post.id);
    } catch (e) {
      toast(describe(e), "error");
    }
  }

  return (
    <article className={`card post${post.pending ? " pending" : ""}`} aria-label={`Post by ${post.author.display_name || post.author.username}`} data-post-id={post.id}>
      <header className="post-head">
        <Link to={`/u/${post.author.username}`} aria-hidden="true" tabIndex={-1}>
          <Avatar user={post.author} presence />
        </Link>
        <div className="who">
          <UserLink user={post.author} /> <span className="muted">@{post.author.username}</span>
          <div className="meta muted">
            {post.pending ? <span>Waiting to send…</span> : <Link to={`/posts/${post.id}`}><Time iso={post.created_at} /></Link>}
            <span className="privacy" title={privacyLabel}> · <Icon name={icon} size={14} label={privacyLabel} /></span>
            {post.type !== "general" && <span className={`tag-type ${post.type}`}>{post.type}</span>}
            {post.is_edited && <Link to={`/posts/${post.id}#history`} className="muted"> · edited</Link>}
          </div>
        </div>
        {mine && !post.pending && (
          <div className="post-menu">
            <button className="ghost small" onClick={() => { setDraft(plain(post.text)); setEditing(true); }}>Edit</button>
            <button className="ghost small" onClick={remove}>Delete</button>
          </div>
        )}
      </header>
      {editing ? (
        <div className="edit">
          <textarea aria-label="Edit post" value={draft} onChange={(e) => setDraft(e.target.value)} rows={3} />
          <div className="row">
            <button className="primary small" onClick={save}>Save</button>
            <button className="ghost small" onClick={() => setEditing(false)}>Cancel</button>
          </div>
        </div>
      ) : (
        <RichText html={post.text} className={`rich post-text${full ? " full" : ""}`} />
      )}
      {post.media.length > 0 && (
        <div className={`media-grid n${post.media.length}`}>
          {post.media.map((m) =>
            m.kind === "video" ? (
              <video key={m.id} src={m.url} controls preload="metadata" />
            ) : (
              <a key={m.id} href={m.url} target="_blank" rel="noreferrer">
                <img src={m.thumbnail_url ?? m.url} alt="Attached image" loading="lazy" width={m.width ?? undefined} height={m.height ?? undefined} />
              </a>
            ),
          )}
        </div>
      )}
      {post.shared_post && (
        <div className="shared">
          <PostCard post={post.shared_post} onChange={() => undefined} />
        </div>
      )}
      {!post.pending && (
        <footer className="post-actions">
          <button className={`action${post.liked_by_me ? " liked" : ""}`} aria-pressed={post.liked_by_me} onClick={toggleLike} aria-label={post.liked_by_me ? "Unlike" : "Like"}>
            <span aria-hidden="true">{post.liked_by_me ? "♥" : "♡"}</span> <span className="count" data-testid="likes">{post.stats.likes}</span>
          </button>
          <Link to={`/posts/${post.id}`} className="action" aria-label={`Comments: ${post.stats.comments}`}>
            <Icon name="comment" size={18} /> <span className="count" data-testid="comments">{post.stats.comments}</span>
          </Link>
          {post.tags.length > 0 && (
            <span className="tags">
              {post.tags.slice(0, 3).map((t) => (
                <Link key={t} to={`/tags/${t}`} className="chip">#{t}</Link>
              ))}
            </span>
          )}
        </footer>
      )}
    </article>
  );
}
