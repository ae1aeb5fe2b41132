import "fake-indexeddb/auto";
import { IDBFactory } from "fake-indexeddb";
import { beforeEach, describe, expect, it } from "vitest";
import { Outbox, type OutboxItem } from "./queue";

let box: Outbox;
beforeEach(() => {
  box = new Outbox(new IDBFactory());
});

describe("Outbox", () => {
  it("keeps items across instances on the same database, oldest first", async () => {
    const factory = new IDBFactory();
    const first = new Outbox(factory);
    await first.add("post", "u1", { body: { text: "a" } }, "k1");
    await first.add("comment", "u1", { postId: "9", body: { text: "b" } }, "k2");
    const again = new Outbox(factory);
    expect((await again.list()).map((i) => i.id)).toEqual(["k1", "k2"]);
  });

  it("sends each item once, in order, with its key, and empties the queue", async () => {
    await box.add("post", "u1", { n: 1 }, "a");
    await box.add("like", "u1", { postId: "5" }, "b");
    await box.add("chat", "u1", { roomId: "7" }, "c");
    const seen: string[] = [];
    const sent = await box.flush("u1", async (item) => {
      seen.push(item.id);
      return "sent";
    });
    expect(sent).toBe(3);
    expect(seen).toEqual(["a", "b", "c"]);
    expect(await box.list()).toEqual([]);
    expect(await box.flush("u1", async () => "sent")).toBe(0);
  });

  it("stops at a network failure and keeps that item and the rest", async () => {
    await box.add("post", "u1", {}, "a");
    await box.add("post", "u1", {}, "b");
    await box.add("post", "u1", {}, "c");
    const seen: string[] = [];
    const sent = await box.flush("u1", async (item) => {
      seen.push(item.id);
      if (item.id === "b") throw new Error("offline");
      return "sent";
    });
    expect(sent).toBe(1);
    expect(seen).toEqual(["a", "b"]);
    expect((await box.list()).map((i) => i.id)).toEqual(["b", "c"]);
    const retried: string[] = [];
    await box.flush("u1", async (item) => (retried.push(item.id), "sent"));
    expect(retried).toEqual(["b", "c"]);
  });

  it("drops a write the server refused for good and reports it", async () => {
    await box.add("comment", "u1", {}, "bad");
    await box.add("comment", "u1", {}, "good");
    const rejected: OutboxItem[] = [];
    const sent = await box.flush("u1", async (item) => (item.id === "bad" ? "rejected" : "sent"), (i) => rejected.push(i));
    expect(sent).toBe(1);
    expect(rejected.map((i) => i.id)).toEqual(["bad"]);
    expect(await box.list()).toEqual([]);
  });

  it("never runs two flushes at once, so a reconnect storm sends an item once", async () => {
    await box.add("post", "u1", {}, "only");
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const send = async () => {
      calls++;
      await gate;
      return "sent" as const;
    };
    const a = box.flush("u1", send);
    const b = box.flush("u1", send);
    release();
    expect(await a).toBe(1);
    expect(await b).toBe(1);
    expect(calls).toBe(1);
  });

  it("flushes only the owner's items", async () => {
    await box.add("post", "ana", {}, "a");
    await box.add("post", "ben", {}, "b");
    const seen: string[] = [];
    await box.flush("ana", async (item) => (seen.push(item.id), "sent"));
    expect(seen).toEqual(["a"]);
    expect((await box.list()).map((i) => i.owner)).toEqual(["ben"]);
  });
});
