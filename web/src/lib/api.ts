// The HTTP API: bearer tokens with refresh rotation, problem+json errors, cursor pages.

export interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: { field: string; message: string }[];
  retry_after?: number;
}

/** An API refusal, carrying the stable `code` of the problem+json body. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail || problem.code);
    this.status = problem.status;
    this.code = problem.code;
    this.problem = problem;
  }
}

/** The network did not answer: the write may be queued and retried. */
export class OfflineError extends Error {}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  session_id: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

const TOKENS_KEY = "townsquare.tokens";
const BASE = "/api/v1";

type Listener = (tokens: Tokens | null) => void;

/** Holds the session's tokens (in localStorage, so tabs and reloads share them). */
export class Api {
  private tokens: Tokens | null;
  private refreshing: Promise<boolean> | null = null;
  private listeners = new Set<Listener>();

  constructor(private readonly storage: Storage | null = globalThis.localStorage ?? null) {
    const raw = storage?.getItem(TOKENS_KEY);
    this.tokens = raw ? (JSON.parse(raw) as Tokens) : null;
  }

  get signedIn(): boolean {
    return this.tokens !== null;
  }

  get accessToken(): string | null {
    return this.tokens?.access_token ?? null;
  }

  get sessionId(): string | null {
    return this.tokens?.session_id ?? null;
  }

  onTokens(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setTokens(tokens: Tokens | null): void {
    this.tokens = tokens;
    if (tokens) this.storage?.setItem(TOKENS_KEY, JSON.stringify(tokens));
    else this.storage?.removeItem(TOKENS_KEY);
    for (const l of this.listeners) l(tokens);
  }

  async login(username: string, password: string): Promise<void> {
    const tokens = await this.request<Tokens>("POST", "/auth/login", { username, password }, false);
    this.setTokens(tokens);
  }

  async logout(): Promise<void> {
    try {
      if (this.tokens) await this.request("POST", "/auth/logout", undefined);
    } catch {
      // signing out locally matters more than telling a server we cannot reach
    }
    this.setTokens(null);
  }

  /** Trade the refresh token for a new pair once, however many callers ask at the same time. */
  refresh(): Promise<boolean> {
    if (!this.tokens) return Promise.resolve(false);
    if (!this.refreshing) {
      const spent = this.tokens.refresh_token;
      this.refreshing = (async () => {
        try {
          const res = await fetch(`${BASE}/auth/refresh`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ refresh_token: spent }),
          });
          if (!res.ok) {
            if (res.status === 401 || res.status === 403) this.setTokens(null);
            return false;
          }
          this.setTokens((await res.json()) as Tokens);
          return true;
        } catch {
          return false;
        } finally {
          this.refreshing = null;
        }
      })();
    }
    return this.refreshing;
  }

  get<T>(path: string, query?: Record<string, string | number | boolean | null | undefined>) {
    return this.request<T>("GET", withQuery(path, query));
  }
  post<T>(path: string, body?: unknown) {
    return this.request<T>("POST", path, body);
  }
  put<T>(path: string, body?: unknown) {
    return this.request<T>("PUT", path, body);
  }
  patch<T>(path: string, body?: unknown) {
    return this.request<T>("PATCH", path, body);
  }
  delete<T>(path: string) {
    return this.request<T>("DELETE", path);
  }

  async upload<T>(path: string, form: FormData, method = "POST"): Promise<T> {
    return this.send<T>(method, path, () => ({ body: form, headers: {} }), true);
  }

  async request<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
    const init = (): { body?: BodyInit; headers: Record<string, string> } =>
      body === undefined ? { headers: {} } : { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } };
    return this.send<T>(method, path, init, auth);
  }

  private async send<T>(
    method: string,
    path: string,
    init: () => { body?: BodyInit; headers: Record<string, string> },
    auth: boolean,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const { body, headers } = init();
      if (auth && this.tokens) headers.Authorization = `Bearer ${this.tokens.access_token}`;
      let res: Response;
      try {
        res = await fetch(BASE + path, { method, body, headers });
      } catch {
        throw new OfflineError("The server cannot be reached");
      }
      if (res.status === 401 && auth && attempt === 0 && this.tokens) {
        const problem = await readProblem(res);
        if (problem.code === "token_expired" && (await this.refresh())) continue;
        if (problem.code !== "token_expired") this.setTokens(null);
        throw new ApiError(problem);
      }
      if (!res.ok) throw new ApiError(await readProblem(res));
      if (res.status === 204) return undefined as T;
      return (await res.json()) as T;
    }
  }
}

async function readProblem(res: Response): Promise<Problem> {
  try {
    const body = (await res.json()) as Partial<Problem>;
    return { status: res.status, code: body.code ?? "http_error", detail: body.detail ?? "", ...body };
  } catch {
    return { status: res.status, code: "http_error", detail: res.statusText };
  }
}

export function withQuery(
  path: string,
  query?: Record<string, string | number | boolean | null | undefined>,
): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** A message a person can read for an error: field errors first, then the problem's detail. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = error.problem.errors?.map((e) => e.message).filter(Boolean);
    if (fields && fields.length) return fields.join(" ");
    return error.problem.detail || error.code.replace(/_/g, " ");
  }
  if (error instanceof OfflineError) return "You are offline. Try again when the connection is back.";
  return error instanceof Error ? error.message : String(error);
}

export const api = new Api();
