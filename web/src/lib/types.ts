// Shapes of the API's replies the client reads (ids are strings, times ISO 8601).

export interface UserSummary {
  id: string;
  username: string;
  display_name: string | null;
  avatar_thumbnail_url: string | null;
}

export interface Profile extends UserSummary {
  bio: string | null;
  avatar_url: string | null;
  joined_at: string;
  role: string;
  location?: string | null;
  last_seen_at?: string | null;
  stats: { followers: number; following: number; posts: number; achievements: number; level: number };
}

export interface OwnProfile extends Profile {
  email: string;
  privacy: Record<string, string | boolean>;
  notifications: { digest: string; timezone: string; categories: Record<string, boolean> };
}

export interface Media {
  id: string;
  kind: "image" | "video" | "gif";
  content_type: string;
  url: string;
  thumbnail_url: string | null;
  width: number | null;
  height: number | null;
}

export interface Post {
  id: string;
  author: UserSummary;
  text: string;
  type: string;
  privacy: "public" | "friends" | "private";
  tags: string[];
  mentions: string[];
  media: Media[];
  shared_post?: Post | null;
  stats: { likes: number; comments: number; shares: number; views: number };
  liked_by_me: boolean;
  is_edited: boolean;
  created_at: string;
  /** Set on a post made offline that is still waiting in the outbox. */
  pending?: boolean;
}

export interface Comment {
  id: string;
  post_id: string;
  parent_id: string | null;
  author: UserSummary;
  text: string;
  replies: number;
  is_edited: boolean;
  created_at: string;
  pending?: boolean;
}

export interface Relationship {
  is_friend: boolean;
  is_following: boolean;
  is_followed_by: boolean;
  request_sent: boolean;
  request_received: boolean;
  is_blocking: boolean;
  is_muting: boolean;
}

export interface FriendRequest {
  id: string;
  from_user?: UserSummary;
  to_user?: UserSummary;
  sender?: UserSummary;
  receiver?: UserSummary;
  message: string | null;
  created_at: string;
}

export interface Notification {
  id: string;
  type: string;
  category: string;
  priority: string;
  title: string;
  message: string;
  data: Record<string, unknown>;
  actor: UserSummary | null;
  actors: UserSummary[];
  count: number;
  target_type: string | null;
  target_id: string | null;
  created_at: string;
  updated_at: string;
  read: boolean;
}

export interface Message {
  id: string;
  room_id: string;
  seq: number;
  sender: UserSummary | null;
  type: "text" | "image" | "video" | "file" | "system";
  text: string;
  reply_to: { id: string; sender_id: string | null; text: string; deleted: boolean } | null;
  attachment: { kind: string; url: string; thumbnail_url?: string | null; name?: string; content_type: string } | null;
  reactions: { emoji: string; count: number; user_ids: string[] }[];
  client_id: string | null;
  created_at: string;
  edited_at: string | null;
  deleted: boolean;
  status?: "sent" | "delivered" | "read" | null;
  pending?: boolean;
}

export interface Member {
  user: UserSummary;
  role: string;
  last_read_seq: number | null;
}

export interface Room {
  id: string;
  type: "direct" | "group" | "team" | "public";
  name: string | null;
  member_count: number;
  last_seq: number;
  last_activity_at: string;
  unread_count: number;
  last_read_seq: number;
  last_message: Message | null;
  members?: Member[] | null;
  is_member: boolean;
}

export interface Session {
  id: string;
  created_at: string;
  last_used_at: string;
  user_agent: string | null;
  ip_address: string | null;
  current: boolean;
}

export interface Presence {
  user_id: string;
  status: "online" | "idle" | "offline";
  activity: string | null;
}

export type { Page } from "./api";
