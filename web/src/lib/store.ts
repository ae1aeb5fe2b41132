// One small app-wide store (session, connection, badges, presence) read with useSyncExternalStore.
import { useSyncExternalStore } from "react";
import type { Notification, OwnProfile, Presence } from "./types";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

export interface AppState {
  me: OwnProfile | null;
  connection: ConnectionState;
  /** Seconds until the next reconnect attempt, while reconnecting. */
  retryIn: number | null;
  attempt: number;
  unread: number;
  notifications: Notification[];
  notificationsLoaded: boolean;
  chatUnread: Record<string, number>;
  presence: Record<string, Presence>;
  queued: number;
  toast: { text: string; kind: "info" | "error" } | null;
}

const initial: AppState = {
  me: null,
  connection: "connecting",
  retryIn: null,
  attempt: 0,
  unread: 0,
  notifications: [],
  notificationsLoaded: false,
  chatUnread: {},
  presence: {},
  queued: 0,
  toast: null,
};

export class Store<S> {
  private listeners = new Set<() => void>();
  constructor(private state: S) {}
  get = (): S => this.state;
  set = (patch: Partial<S> | ((s: S) => Partial<S>)): void => {
    const change = typeof patch === "function" ? patch(this.state) : patch;
    this.state = { ...this.state, ...change };
    for (const l of this.listeners) l();
  };
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}

export const store = new Store<AppState>(initial);

export function resetStore(): void {
  store.set(initial);
}

export function useApp<T>(pick: (s: AppState) => T): T {
  return useSyncExternalStore(store.subscribe, () => pick(store.get()));
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;
export function toast(text: string, kind: "info" | "error" = "info"): void {
  store.set({ toast: { text, kind } });
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => store.set({ toast: null }), 4000);
}
