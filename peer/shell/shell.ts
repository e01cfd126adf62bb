/**
 * The peer's interactive shell: reads one command per line, sends it to the
 * tracker and prints the result as short lines, or exactly one line that
 * begins with `error: `. No input line can make it crash.
 */
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import { checkId } from "../../shared/names.ts";
import { BadMessage } from "../../shared/protocol/bad_message.ts";
import { decodeLoginAnswer, decodeWhoamiAnswer } from "../../shared/protocol/client_answers.ts";
import { type Command, type Ctx, ShellError, type ShellOptions } from "./command.ts";
import { FILE_COMMANDS } from "./file_commands.ts";

export { ShellError, type ShellOptions };

/** The prompt shown before each line when the input is a terminal. */
export const PROMPT = "shoal> ";

const logger = log("peer", "shell");

type Data = Record<string, unknown>;

const COMMANDS: Record<string, Command> = {
  help: { params: [], login: false, run: () => Promise.resolve(helpLines()) },
  create_user: {
    params: ["<user_id>", "<passwd>"],
    login: false,
    run: async (ctx, [user, password]) => {
      const d = await call(ctx, "create_user", { user, password });
      return [`created user ${str(d.user, user)}`];
    },
  },
  login: {
    params: ["<user_id>", "<passwd>"],
    login: false,
    run: async (ctx, [user, password]) => {
      const d = answer(
        decodeLoginAnswer,
        await call(ctx, "login", { user, password, addr: ctx.addr, pubkey: ctx.identity.pubkey }),
      );
      // The certificate is checked first: without a usable one the login is not kept.
      await ctx.identity.take(d.cert);
      const name = d.user;
      ctx.client.token = d.token;
      ctx.user = name;
      await ctx.store.save({ user: name, token: d.token }).catch((err) =>
        logger.warn("Cannot save the session: {error}", { error: describeError(err) })
      );
      await ctx.files?.online(name, d.grantKey);
      return [`logged in as ${name}`];
    },
  },
  logout: {
    params: [],
    login: true,
    run: async (ctx) => {
      ctx.files?.offline();
      ctx.identity.drop();
      const d = await call(ctx, "logout", {});
      const name = str(d.user, ctx.user ?? "");
      await dropSession(ctx);
      return [`logged out ${name}`];
    },
  },
  whoami: {
    params: [],
    login: true,
    run: async (ctx) => {
      const d = answer(decodeWhoamiAnswer, await call(ctx, "whoami", {}));
      return [`logged in as ${d.user} (peer address ${d.addr})`];
    },
  },
  create_group: groupCommand(
    "create_group",
    (d, g) => `created group ${g} (owner ${str(d.owner)})`,
  ),
  join_group: groupCommand(
    "join_group",
    (d, g) => `requested to join ${g} (owner ${str(d.owner)})`,
  ),
  leave_group: {
    params: ["<group_id>"],
    login: true,
    run: async (ctx, [g]) => {
      const d = await call(ctx, "leave_group", { group: g });
      // The trackers withdrew this user's offers in the group: the peer stops serving them too.
      ctx.files?.leftGroup(g!);
      if (d.deleted === true) return [`left ${g}; it had no members left and was deleted`];
      return [typeof d.owner === "string" ? `left ${g} (owner ${d.owner})` : `left ${g}`];
    },
  },
  list_requests: groupCommand("list_requests", (d, g) => {
    const users = Array.isArray(d.requests) ? d.requests.map((u) => String(u)) : [];
    return users.length > 0 ? users : [`no pending requests for ${g}`];
  }),
  accept_request: memberCommand("accept_request", (u, g) => `accepted ${u} into ${g}`),
  reject_request: memberCommand("reject_request", (u, g) => `rejected ${u}'s request to join ${g}`),
  list_groups: {
    params: [],
    login: true,
    run: async (ctx) => {
      const d = await call(ctx, "list_groups", {});
      const groups = objects(d.groups);
      if (groups.length === 0) return ["no groups"];
      return table(
        ["GROUP", "OWNER", "MEMBERS", "YOU"],
        groups.map((g) => [
          str(g.group),
          str(g.owner),
          String(g.members ?? "?"),
          g.member === true ? "member" : g.pending === true ? "pending" : "-",
        ]),
      );
    },
  },
  list_files: groupCommand("list_files", (d, g) => {
    const files = objects(d.files);
    if (files.length === 0) return [`no files in ${g}`];
    return table(
      ["NAME", "SIZE", "SHA1", "SEEDERS", "PARTIAL"],
      files.map((f) => [
        str(f.name),
        typeof f.size === "number" ? humanSize(f.size) : "?",
        str(f.sha1),
        String(f.seeders ?? "?"),
        String(f.partial ?? "?"),
      ]),
    );
  }),
  ...FILE_COMMANDS,
};

/** Runs the shell until the input ends or the user types quit or exit. */
export async function runShell(options: ShellOptions): Promise<void> {
  const ctx: Ctx = { ...options, user: null };
  const prompt = options.prompt ?? options.output;
  await resume(ctx);
  const lines = readLines(options.input);
  try {
    for (;;) {
      if (options.interactive) prompt(PROMPT);
      const next = await lines.next();
      if (next.done) {
        if (options.interactive) options.output("");
        return;
      }
      const words = splitWords(next.value);
      const name = words[0] ?? "";
      if (name === "" || name.startsWith("#")) continue;
      if (name === "quit" || name === "exit") return;
      for (const line of await execute(ctx, name, words.slice(1))) options.output(line);
    }
  } finally {
    await lines.return(undefined);
  }
}

/** Runs one command; every failure becomes a single `error: ` line. */
async function execute(ctx: Ctx, name: string, args: string[]): Promise<string[]> {
  try {
    const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!cmd) throw new ShellError(`unknown command "${clip(name)}" (type help)`);
    const min = cmd.params.length - (cmd.optional ?? 0);
    if (args.length < min || args.length > cmd.params.length) {
      throw new ShellError(`usage: ${usage(name, cmd)}`);
    }
    for (const [i, param] of cmd.params.entries()) {
      if (cmd.noCheck || i >= args.length) break;
      const kind = param === "<user_id>" ? "user" : param === "<group_id>" ? "group" : null;
      const err = kind && checkId(kind, args[i]!);
      if (err) throw new ShellError(err);
    }
    if (cmd.login && ctx.client.token === undefined) throw new ShellError("not logged in");
    logger.debug("Running {name}", { name });
    return await cmd.run(ctx, args);
  } catch (err) {
    if (!(err instanceof ShellError)) logger.debug("{name} failed: {err}", { name, err });
    return [`error: ${describeError(err)}`];
  }
}

/** Resumes a stored session if the tracker still knows it; drops it if not. */
async function resume(ctx: Ctx): Promise<void> {
  const saved = await ctx.store.load();
  if (!saved) return;
  ctx.client.token = saved.token;
  try {
    const res = await ctx.client.request("whoami", {});
    const who = res.ok ? answer(decodeWhoamiAnswer, res.data) : null;
    if (who?.user === saved.user) {
      ctx.user = saved.user;
      ctx.output(`resumed session as ${saved.user}`);
      // A new process has a new key: it gets its certificate by renewal, not by a login.
      await ctx.identity.renew().catch((err) =>
        ctx.output(`error: ${describeError(err)} (this peer neither serves nor downloads)`)
      );
      await ctx.files?.online(saved.user, who.grantKey);
      return;
    }
    logger.debug("Dropping the stored session of {user}: the tracker does not know it", {
      user: saved.user,
    });
    await dropSession(ctx);
  } catch (err) {
    // The trackers are unreachable: keep the file, so a later start can resume.
    ctx.client.token = undefined;
    ctx.output(`error: cannot resume the session of ${saved.user}: ${describeError(err)}`);
  }
}

async function dropSession(ctx: Ctx): Promise<void> {
  // Whoever was logged in is not any more: their files stop being served.
  ctx.files?.offline();
  ctx.identity.drop();
  ctx.client.token = undefined;
  ctx.user = null;
  await ctx.store.clear().catch((err) =>
    logger.warn("Cannot remove the session file: {error}", { error: describeError(err) })
  );
}

/** The objects in a list field of an answer; anything else in it is left out. */
function objects(v: unknown): Data[] {
  if (!Array.isArray(v)) return [];
  return v.filter((x): x is Data => typeof x === "object" && x !== null && !Array.isArray(x));
}

/** The tracker's answer checked by `decode`; a malformed one is a {@linkcode ShellError}. */
function answer<T>(decode: (data: Data) => T, data: Data): T {
  try {
    return decode(data);
  } catch (err) {
    if (err instanceof BadMessage) {
      throw new ShellError(`malformed answer from the tracker: ${err.message}`);
    }
    throw err;
  }
}

/** Sends a command; a refusal becomes a {@linkcode ShellError} with the tracker's words. */
async function call(ctx: Ctx, cmd: string, args: Data): Promise<Data> {
  const res = await ctx.client.request(cmd, args);
  if (res.ok) return res.data;
  if (res.error === "not logged in") await dropSession(ctx);
  throw new ShellError(res.error);
}

function groupCommand(cmd: string, show: (d: Data, group: string) => string | string[]): Command {
  return {
    params: ["<group_id>"],
    login: true,
    run: async (ctx, [group]) => [show(await call(ctx, cmd, { group }), group!)].flat(),
  };
}

function memberCommand(cmd: string, done: (user: string, group: string) => string): Command {
  return {
    params: ["<group_id>", "<user_id>"],
    login: true,
    run: async (ctx, [group, user]) => {
      await call(ctx, cmd, { group, user });
      return [done(user!, group!)];
    },
  };
}

function usage(name: string, cmd: Command): string {
  const opt = cmd.optional ?? 0;
  const params = cmd.params.map((p, i) => i >= cmd.params.length - opt ? `[${p}]` : p);
  return [name, ...params].join(" ");
}

function helpLines(): string[] {
  const lines = Object.entries(COMMANDS).map(([name, cmd]) => `  ${usage(name, cmd)}`);
  return ["commands:", ...lines, "  quit | exit"];
}

/** Formats rows as left-aligned columns under a header. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const fmt = (row: string[]) => row.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}

/** Formats a byte count for people: `512 B`, `1.5 KiB`, `3.0 GiB`. */
export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function str(value: unknown, fallback?: string): string {
  return typeof value === "string" ? value : fallback ?? "?";
}

function clip(s: string): string {
  // deno-lint-ignore no-control-regex
  const safe = s.replace(/[\u0000-\u001f\u007f]/g, "?");
  return safe.length > 40 ? `${safe.slice(0, 40)}…` : safe;
}

/** Splits a command line into words; double quotes keep spaces inside a word. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.trim().matchAll(/"([^"]*)"|(\S+)/g)) words.push(m[1] ?? m[2]!);
  return words;
}

async function* readLines(input: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of input) {
    buf += decoder.decode(chunk, { stream: true });
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      yield buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
    }
  }
  buf += decoder.decode();
  if (buf !== "") yield buf;
}
