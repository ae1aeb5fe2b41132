// A hashtag page: posts with the tag, newest first.
import { PostList } from "./PostList";

export default function TagScreen({ tag }: { tag: string }) {
  return (
    <div>
      <h1 className="page-title">#{tag}</h1>
      <PostList path={`/tags/${encodeURIComponent(tag)}`} empty="No posts with this hashtag yet." />
    </div>
  );
}
