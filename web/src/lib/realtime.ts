// The Socket.IO connection: state and backoff for the UI, recovery with last_offset, and an
// in-page event bus the screens subscribe to.
import { io, type Socket } from "socket.io-client";
import { api } from "./api";
import { store } from "./store";

type Handler = (data: any) => void;

interface WebConfig {
  gateway_url: string | null;
  gateway_port: number;
}

const OFFSET_KEY = "townsquare.last_offset";

export function gatewayUrl(config: WebConfig, location: { protocol: string; hostname: string }): string {
  if (config.gateway_url) return config.gateway_url.replace(/\/$/, "");
  return `${location.protocol}//${location.hostname}:${config.gateway_port}`;
}

export interface Ack<T = any> {
  ok: boolean;
  data?: T;
  error?: { code: string; message: string };
}

class Realtime {
  socket: Socket | null = null;
  private handlers = new Map<string, Set<Handler>>();
  private userId: string | null = null;
  private retryTimer: ReturnType<typeof setInterval> | undefined;
  private connectHooks = new Set<() => void>();

  on(event: string, handler: Handler): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => set!.delete(handler);
  }

  /** Run on every (re)connect: rejoin rooms, resubscribe, flush the outbox. */
  onConnect(hook: () => void): () => void {
    this.connectHooks.add(hook);
    if (this.socket?.connected) hook();
    return () => this.connectHooks.delete(hook);
  }

  private dispatch(event: string, data: unknown): void {
    for (const h of this.handlers.get(event) ?? []) {
      try {
        h(data);
      } catch (e) {
        console.error(event, e);
      }
    }
  }

  get connected(): boolean {
    return !!this.socket?.connected;
  }

  async start(userId: string): Promise<void> {
    if (this.socket) return;
    this.userId = userId;
    const config = await api.get<WebConfig>("/web/config");
    const key = `${OFFSET_KEY}.${userId}`;
    const socket = io(`${gatewayUrl(config, window.location)}/realtime`, {
      auth: (cb) => cb({ token: api.accessToken, last_offset: sessionStorage.getItem(key) ?? undefined }),
      reconnectionDelay: 1000,
      reconnectionDelayMax: 15000,
      randomizationFactor: 0.5,
    });
    this.socket = socket;
    store.set({ connection: navigator.onLine ? "connecting" : "offline" });
    socket.on("connect", () => {
      clearInterval(this.retryTimer);
      store.set({ connection: "connected", retryIn: null, attempt: 0 });
      for (const hook of this.connectHooks) hook();
    });
    socket.on("disconnect", (reason) => {
      if (reason === "io client disconnect" && !navigator.onLine) return;
      store.set({ connection: navigator.onLine ? "reconnecting" : "offline" });
    });
    socket.on("connect_error", async (err: Error & { data?: { code?: string } }) => {
      const code = err.data?.code ?? err.message;
      if (code === "token_expired" && (await api.refresh())) return;
      if (["token_invalid", "session_revoked", "account_suspended", "account_banned"].includes(code)) {
        this.stop();
        await api.logout();
      }
    });
    socket.io.on("reconnect_attempt", (attempt) => {
      const delay = Math.min(1000 * 2 ** attempt, 15000) / 1000;
      store.set({ connection: navigator.onLine ? "reconnecting" : "offline", attempt, retryIn: Math.round(delay) });
      clearInterval(this.retryTimer);
      this.retryTimer = setInterval(() => {
        const left = store.get().retryIn;
        if (left && left > 0) store.set({ retryIn: left - 1 });
      }, 1000);
    });
    socket.onAny((event: string, data: unknown, meta?: { offset?: string }) => {
      if (meta && typeof meta.offset === "string") sessionStorage.setItem(key, meta.offset);
      this.dispatch(event, data);
    });
    window.addEventListener("offline", this.wentOffline);
    window.addEventListener("online", this.cameOnline);
  }

  private wentOffline = () => {
    store.set({ connection: "offline" });
    this.socket?.disconnect();
  };

  private cameOnline = () => {
    store.set({ connection: "reconnecting" });
    this.socket?.connect();
    this.dispatch("network:online", null);
  };

  stop(): void {
    clearInterval(this.retryTimer);
    window.removeEventListener("offline", this.wentOffline);
    window.removeEventListener("online", this.cameOnline);
    this.socket?.removeAllListeners();
    this.socket?.io.removeAllListeners();
    this.socket?.disconnect();
    this.socket = null;
    if (this.userId) sessionStorage.removeItem(`${OFFSET_KEY}.${this.userId}`);
    this.userId = null;
  }

  async emit<T = any>(event: string, data: unknown): Promise<Ack<T>> {
    if (!this.socket?.connected) return { ok: false, error: { code: "offline", message: "Not connected" } };
    try {
      return (await this.socket.timeout(10000).emitWithAck(event, data)) as Ack<T>;
    } catch {
      return { ok: false, error: { code: "timeout", message: "No answer" } };
    }
  }

  /** Fire and forget (typing, presence): lost while offline, which is what we want. */
  send(event: string, data: unknown): void {
    if (this.socket?.connected) this.socket.emit(event, data);
  }
}

export const realtime = new Realtime();
