// A post with its comments and replies (live), and its edit history for the author.
import { useEffect, useState } from "react";
import { api, describe } from "../lib/api";
import { realtime } from "../lib/realtime";
import { withComment } from "../lib/state";
import { useApp, toast } from "../lib/store";
import type { Comment, Page, Post } from "../lib/types";
import { addComment, SENT_EVENT } from "../lib/writes";
import { Avatar, Empty, ErrorText, Link, RichText, Spinner, Time, UserLink } from "../ui";
import { PostCard } from "./PostCard";

interface Edit {
  id: string;
  text: string;
  created_at: string;
}

function CommentForm({ postId, parentId, onDone, label }: { postId: string; parentId?: string; onDone: (c: Comment) => void; label: string }) {
  const me = useApp((s) => s.me)!;
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="comment-form"
      onSubmit={async (e) => {
        e.preventDefault();
        if (!text.trim()) return;
        setBusy(true);
        try {
          const { result, key } = await addComment(postId, parentId ? { text, parent_id: parentId } : { text });
          onDone(
            result ?? { id: key, post_id: postId, parent_id: parentId ?? null, author: me, text: text.replace(/</g, "&lt;"), replies: 0, is_edited: false, created_at: new Date().toISOString(), pending: true },
          );
          setText("");
        } catch (err) {
          toast(describe(err), "error");
        } finally {
          setBusy(false);
        }
      }}
    >
      <Avatar user={me} size={32} />
      <input aria-label={label} placeholder={label} value={text} onChange={(e) => setText(e.target.value)} maxLength={2000} />
      <button className="primary small" disabled={busy || !text.trim()}>
        Send
      </button>
    </form>
  );
}

function CommentItem({ comment, postId }: { comment: Comment; postId: string }) {
  const [replies, setReplies] = useState<Comment[] | null>(null);
  const [replying, setReplying] = useState(false);
  useEffect(
    () =>
      realtime.on("feed:new_comment", ({ comment: c }: { comment: Comment }) => {
        if (c.parent_id === comment.id) setReplies((list) => list && withComment(list, c));
      }),
    [comment.id],
  );
  async function showReplies() {
    const page = await api.get<Page<Comment>>(`/comments/${comment.id}/replies`, { limit: 50 });
    setReplies(page.items);
  }
  return (
    <li className={`comment${comment.pending ? " pending" : ""}`} data-comment-id={comment.id}>
      <Avatar user={comment.author} size={32} />
      <div className="bubble">
        <div className="comment-head">
          <UserLink user={comment.author} /> <span className="muted">{comment.pending ? "waiting to send" : <Time iso={comment.created_at} />}</span>
        </div>
        <RichText html={comment.text} />
        {!comment.parent_id && !comment.pending && (
          <div className="comment-actions">
            <button className="link small" onClick={() => setReplying(!replying)}>Reply</button>
            {comment.replies > 0 && replies === null && (
              <button className="link small" onClick={showReplies}>
                {comment.replies === 1 ? "1 reply" : `${comment.replies} replies`}
              </button>
            )}
          </div>
        )}
        {replies && (
          <ul className="comments replies">
            {replies.map((r) => (
              <CommentItem key={r.id} comment={r} postId={postId} />
            ))}
          </ul>
        )}
        {replying && <CommentForm postId={postId} parentId={comment.id} label="Write a reply" onDone={(c) => { setReplies((l) => withComment(l ?? [], c)); setReplying(false); }} />}
      </div>
    </li>
  );
}

export default function PostScreen({ id }: { id: string }) {
  const me = useApp((s) => s.me)!;
  const [post, setPost] = useState<Post | null>(null);
  const [comments, setComments] = useState<Comment[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [history, setHistory] = useState<Edit[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api.get<Post>(`/posts/${id}`).then(setPost, (e) => setError(describe(e)));
    api.get<Page<Comment>>(`/posts/${id}/comments`, { limit: 50 }).then((p) => {
      setComments(p.items);
      setCursor(p.next_cursor);
    }, () => undefined);
  }, [id]);

  useEffect(() => {
    const add = (c: Comment) => {
      if (c.post_id !== id || c.parent_id) return;
      setComments((list) => withComment(list, c));
    };
    const offs = [
      realtime.on("feed:new_comment", ({ comment }: { comment: Comment }) => {
        add(comment);
        if (comment.post_id === id && comment.author.id !== me.id) setPost((p) => p && { ...p, stats: { ...p.stats, comments: p.stats.comments + 1 } });
      }),
      realtime.on("feed:likes", (e: { post_id: string; total: number }) => e.post_id === id && setPost((p) => p && { ...p, stats: { ...p.stats, likes: e.total } })),
    ];
    const sent = (e: Event) => {
      const { item, result } = (e as CustomEvent).detail;
      if (item.kind === "comment" && item.payload.postId === id) setComments((l) => withComment(l, result as Comment, item.id));
    };
    window.addEventListener(SENT_EVENT, sent);
    return () => {
      offs.forEach((o) => o());
      window.removeEventListener(SENT_EVENT, sent);
    };
  }, [id, me.id]);

  useEffect(() => {
    if (post?.is_edited && post.author.id === me.id && location.hash === "#history") void loadHistory();
  }, [post?.id]);

  async function loadHistory() {
    try {
      setHistory(await api.get<Edit[]>(`/posts/${id}/history`));
    } catch (e) {
      toast(describe(e), "error");
    }
  }

  if (error) return <section className="card"><h1>Post not available</h1><ErrorText error={error} /><Link to="/">Back home</Link></section>;
  if (!post) return <Spinner />;
  return (
    <div className="post-page">
      <PostCard post={post} onChange={setPost} onRemove={() => window.history.back()} full />
      {post.is_edited && post.author.id === me.id && (
        <section className="card" id="history">
          <h2>Edit history</h2>
          {history === null ? (
            <button className="ghost" onClick={loadHistory}>Show earlier versions</button>
          ) : history.length === 0 ? (
            <Empty>No earlier versions.</Empty>
          ) : (
            <ol className="history">
              {history.map((h) => (
                <li key={h.id}>
                  <Time iso={h.created_at} />
                  <RichText html={h.text} />
                </li>
              ))}
            </ol>
          )}
        </section>
      )}
      <section className="card" aria-labelledby="comments-title">
        <h2 id="comments-title">Comments</h2>
        <CommentForm postId={id} label="Write a comment" onDone={(c) => {
          setComments((l) => withComment(l, c));
          if (!c.pending) setPost((p) => p && { ...p, stats: { ...p.stats, comments: p.stats.comments + 1 } });
        }} />
        {comments.length === 0 ? (
          <Empty>No comments yet.</Empty>
        ) : (
          <ul className="comments">
            {comments.map((c) => (
              <CommentItem key={c.id} comment={c} postId={id} />
            ))}
          </ul>
        )}
        {cursor && (
          <button className="ghost" onClick={async () => {
            const p = await api.get<Page<Comment>>(`/posts/${id}/comments`, { limit: 50, cursor });
            setComments((l) => [...l, ...p.items.filter((c) => !l.some((x) => x.id === c.id))]);
            setCursor(p.next_cursor);
          }}>
            More comments
          </button>
        )}
      </section>
    </div>
  );
}
