// Sign in and sign up: the first screen a new person sees.
import { useState, type FormEvent } from "react";
import { api, describe } from "../lib/api";
import { ErrorText } from "../ui";

export function AuthScreen() {
  const [mode, setMode] = useState<"signin" | "signup">("signin");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const username = String(form.get("username") ?? "").trim();
    const password = String(form.get("password") ?? "");
    setBusy(true);
    setError(null);
    try {
      if (mode === "signup") {
        await api.post("/auth/register", { username, email: String(form.get("email") ?? "").trim(), password });
      }
      await api.login(username, password);
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="auth">
      <div className="auth-hero">
        <h1>
          <span className="brand-mark" aria-hidden="true">⌂</span> townsquare
        </h1>
        <p>Your community, live: posts, friends, notifications and chat, as they happen.</p>
      </div>
      <form className="card auth-card" onSubmit={submit} aria-labelledby="auth-title">
        <h2 id="auth-title">{mode === "signin" ? "Sign in" : "Create your account"}</h2>
        <label>
          {mode === "signin" ? "Username or email" : "Username"}
          <input name="username" autoComplete="username" required minLength={3} maxLength={mode === "signup" ? 30 : 254} pattern={mode === "signup" ? "[A-Za-z0-9_]{3,30}" : undefined} title={mode === "signup" ? "3–30 letters, digits or underscores" : undefined} />
        </label>
        {mode === "signup" && (
          <label>
            Email
            <input name="email" type="email" autoComplete="email" required />
          </label>
        )}
        <label>
          Password
          <input name="password" type="password" autoComplete={mode === "signin" ? "current-password" : "new-password"} required minLength={mode === "signup" ? 10 : 1} />
          {mode === "signup" && <small>At least 10 characters, not a common password.</small>}
        </label>
        <ErrorText error={error} />
        <button className="primary wide" disabled={busy}>
          {busy ? "Please wait…" : mode === "signin" ? "Sign in" : "Sign up"}
        </button>
        <p className="switch">
          {mode === "signin" ? "New here?" : "Already have an account?"}{" "}
          <button type="button" className="link" onClick={() => { setMode(mode === "signin" ? "signup" : "signin"); setError(null); }}>
            {mode === "signin" ? "Create an account" : "Sign in"}
          </button>
        </p>
      </form>
    </div>
  );
}
