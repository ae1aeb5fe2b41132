// The offline outbox: writes made without a connection wait in IndexedDB and are sent once,
// in order, with their idempotency keys when the connection is back.

export type OutboxKind = "post" | "comment" | "like" | "unlike" | "chat";

export interface OutboxItem {
  /** The idempotency key sent as `client_id`; also the item's key in the store. */
  id: string;
  kind: OutboxKind;
  /** Whose write it is: a queue is only flushed by the account that filled it. */
  owner: string;
  payload: Record<string, unknown>;
  createdAt: number;
  seq: number;
}

export type SendResult = "sent" | "rejected";

/** Sends one item; throws when the network is down (the item stays), returns "rejected" when
 * the server refused it for good (the item is dropped and reported). */
export type Sender = (item: OutboxItem) => Promise<SendResult>;

const DB_NAME = "townsquare";
const STORE = "outbox";

export function newKey(): string {
  const c = globalThis.crypto;
  if (c && "randomUUID" in c) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function open(factory: IDBFactory): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = factory.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: "id" });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

type Listener = (items: OutboxItem[]) => void;

export class Outbox {
  private db: Promise<IDBDatabase> | null = null;
  private flushing: Promise<number> | null = null;
  private listeners = new Set<Listener>();
  private counter = 0;

  constructor(private readonly factory: IDBFactory = globalThis.indexedDB) {}

  private store(mode: IDBTransactionMode): Promise<IDBObjectStore> {
    this.db ??= open(this.factory);
    return this.db.then((db) => db.transaction(STORE, mode).objectStore(STORE));
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async changed(): Promise<void> {
    if (!this.listeners.size) return;
    const items = await this.list();
    for (const l of this.listeners) l(items);
  }

  async add(kind: OutboxKind, owner: string, payload: Record<string, unknown>, id = newKey()): Promise<OutboxItem> {
    const item: OutboxItem = { id, kind, owner, payload, createdAt: Date.now(), seq: this.counter++ };
    await done((await this.store("readwrite")).put(item));
    await this.changed();
    return item;
  }

  /** Queued items oldest first. */
  async list(owner?: string): Promise<OutboxItem[]> {
    const all = (await done((await this.store("readonly")).getAll())) as OutboxItem[];
    return all
      .filter((i) => owner === undefined || i.owner === owner)
      .sort((a, b) => a.createdAt - b.createdAt || a.seq - b.seq);
  }

  async remove(id: string): Promise<void> {
    await done((await this.store("readwrite")).delete(id));
    await this.changed();
  }

  /** Send the owner's items in order; one flush at a time, so no item is sent twice at once.
   * Stops at the first network failure and leaves the rest queued. Resolves to the number sent. */
  flush(owner: string, send: Sender, onRejected?: (item: OutboxItem) => void): Promise<number> {
    if (this.flushing) return this.flushing;
    this.flushing = (async () => {
      let sent = 0;
      try {
        for (const item of await this.list(owner)) {
          let result: SendResult;
          try {
            result = await send(item);
          } catch {
            break; // still offline: keep this item and everything after it
          }
          await this.remove(item.id);
          if (result === "sent") sent++;
          else onRejected?.(item);
        }
      } finally {
        this.flushing = null;
      }
      return sent;
    })();
    return this.flushing;
  }
}
