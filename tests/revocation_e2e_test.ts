/**
 * Revocation bites within a second: a member downloading from a real peer
 * leaves the group, logs out, or the seeder stops sharing the file; the
 * serving peer sends that connection no further byte within 1 s of the
 * command's answer, closes it, and refuses the old grant afterwards.
 * The downloader is the fake codec client from `fake_peer.ts` so that every
 * byte it receives is counted; the trackers and the seeder are real processes.
 */
import assert from "node:assert/strict";
import { PIECE_SIZE } from "../shared/constants.ts";
import type { Message } from "../shared/frame.ts";
import { PieceClient, type PieceDial, RawTracker } from "./fake_peer.ts";
import { randomBytes } from "./harness/files.ts";
import { freePort } from "./harness/ports.ts";
import type { PeerShell } from "./harness/shell.ts";
import { GROUP, Swarm } from "./harness/swarm.ts";

/** The bound the issue sets: from the command's answer to the last byte received. */
const REVOCATION_BOUND_MS = 1000;
const PIECES = 32;
/** Requests the downloader keeps outstanding, so the connection is always busy. */
const DEPTH = 4;

interface Streaming {
  client: PieceClient;
  bytes: () => number;
  lastByteAt: () => number;
  /** Resolves when the server closes the connection (or after `ms`), with whether it closed. */
  ended: (ms: number) => Promise<boolean>;
}

/** Connects with `grant` and keeps asking for pieces until the server closes the connection. */
async function stream(to: PieceDial, hello: Message): Promise<Streaming> {
  const client = await PieceClient.connect(to);
  await client.send(hello);
  const welcome = await client.next();
  assert.ok(welcome.kind === "json" && welcome.msg.t === "welcome", JSON.stringify(welcome));
  let bytes = 0;
  let lastByteAt = 0;
  let next = 0;
  const ask = () => client.send({ t: "get", tag: next, piece: next++ % PIECES }).catch(() => {});
  for (let i = 0; i < DEPTH; i++) await ask();
  let closed = false;
  const reading = (async () => {
    for (;;) {
      const f = await client.next(10_000);
      if (f.kind === "closed") return void (closed = true);
      if (f.kind === "timeout") return;
      if (f.kind === "data") {
        bytes += f.data.length;
        lastByteAt = performance.now();
        await ask();
      }
    }
  })();
  return {
    client,
    bytes: () => bytes,
    lastByteAt: () => lastByteAt,
    ended: async (ms) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([reading, new Promise((r) => timer = setTimeout(r, ms))]);
      clearTimeout(timer);
      return closed;
    },
  };
}

async function refused(to: PieceDial, hello: Message): Promise<string> {
  const c = await PieceClient.connect(to);
  try {
    await c.send(hello);
    const f = await c.next();
    return f.kind === "json" && f.msg.t === "error" ? String(f.msg.error) : JSON.stringify(f);
  } finally {
    await c.close();
  }
}

interface Case {
  what: string;
  /** Runs the revoking command; resolves when its answer arrives. */
  revoke: (ctx: { alice: PeerShell; bob: RawTracker }) => Promise<void>;
  /** What the serving peer answers a new connection with the old grant. */
  after: RegExp;
  /** Whether another member (carol) shares the file too, so that it stays in the group. */
  second?: boolean;
}

const CASES: Case[] = [
  {
    what: "the seeder leaves the group while another member still shares the file",
    revoke: async ({ alice }) => void await alice.ok(`leave_group ${GROUP}`),
    after: /no file big\.bin in g1 here|not logged in/,
    second: true,
  },
  {
    what: "the downloader leaves the group",
    revoke: async ({ bob }) => void await bob.call("leave_group", { group: GROUP }),
    after: /grant revoked/,
  },
  {
    what: "the downloader logs out",
    revoke: async ({ bob }) => void await bob.call("logout"),
    after: /grant revoked/,
  },
  {
    what: "the seeder stops sharing the file",
    revoke: async ({ alice }) => void await alice.ok(`stop_share ${GROUP} big.bin`),
    after: /no file big\.bin in g1 here|grant revoked/,
  },
];

for (const c of CASES) {
  Deno.test(`revocation: when ${c.what}, the serving peer sends no byte after 1 s`, async () => {
    await Swarm.run(async (s) => {
      const alice = await s.member("alice");
      const src = await s.mkdir("src");
      await Deno.writeFile(`${src}/big.bin`, randomBytes(PIECES * PIECE_SIZE));
      await alice.ok(`upload_file ${src}/big.bin ${GROUP}`);
      if (c.second) {
        const carol = await s.member("carol");
        await carol.ok(`upload_file ${src}/big.bin ${GROUP}`);
      }
      const bob = await RawTracker.connect(s.pair.endpoints[0], await s.pair.ca());
      try {
        await bob.signUp("bob", "pw-bob", `127.0.0.1:${freePort()}`);
        await bob.call("join_group", { group: GROUP });
        await alice.ok(`accept_request ${GROUP} bob`);
        const lookup = await bob.call("lookup_file", { group: GROUP, name: "big.bin" });
        const hello: Message = {
          t: "hello",
          group: GROUP,
          name: "big.bin",
          sha1: String(lookup.sha1),
          grant: lookup.grant,
        };
        const st = await stream({ addr: alice.addr, tls: bob.tls() }, hello);
        try {
          // Let bytes flow for a moment, so the revocation hits a busy connection.
          const t = performance.now();
          while (st.bytes() < 8 * PIECE_SIZE && performance.now() - t < 5000) {
            await new Promise((r) => setTimeout(r, 20));
          }
          assert.ok(st.bytes() >= 8 * PIECE_SIZE, `only ${st.bytes()} bytes before revoking`);
          await c.revoke({ alice, bob });
          const answeredAt = performance.now();
          const before = st.bytes();
          const closed = await st.ended(5000);
          // Negative when the connection was cut before the answer arrived.
          const lastMs = st.lastByteAt() - answeredAt;
          console.log(
            `${c.what}: last byte ${lastMs.toFixed(1)} ms after the answer, ` +
              `${st.bytes() - before} bytes after it`,
          );
          assert.ok(closed, "the serving peer closes the connection");
          assert.ok(
            lastMs < REVOCATION_BOUND_MS,
            `last byte ${lastMs.toFixed(0)} ms after the answer`,
          );
        } finally {
          await st.client.close();
        }
        assert.match(await refused({ addr: alice.addr, tls: bob.tls() }, hello), c.after);
      } finally {
        await bob.close();
      }
    });
  });
}
