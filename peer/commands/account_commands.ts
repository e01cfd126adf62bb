/** The account commands (create_user, login, logout, whoami) and resuming a stored session. */
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import { decodeLoginAnswer, decodeWhoamiAnswer } from "../../shared/protocol/client_answers.ts";
import { type Command, type Ctx, said } from "./command.ts";
import { answer, call, dropSession } from "./_tracker_call.ts";
import { str } from "./format.ts";

const logger = log("peer", "commands");

/** The account commands, merged into the command table. */
export const ACCOUNT_COMMANDS: Record<string, Command> = {
  create_user: {
    params: ["<user_id>", "<passwd>"],
    login: false,
    about: "creates an account at the trackers",
    run: async (ctx, [user, password]) => {
      const d = await call(ctx, "create_user", { user, password });
      const name = str(d.user, user);
      return said(`created user ${name}`, { user: name });
    },
  },
  login: {
    params: ["<user_id>", "<passwd>"],
    login: false,
    about: "logs this peer in; its shares are offered and its downloads continue",
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
      return said(`logged in as ${name}`, { user: name });
    },
  },
  logout: {
    params: [],
    login: true,
    about: "ends the session; shares stop being served and downloads pause until the next login",
    run: async (ctx) => {
      ctx.files?.offline();
      ctx.identity.drop();
      const d = await call(ctx, "logout", {});
      const name = str(d.user, ctx.user ?? "");
      await dropSession(ctx);
      return said(`logged out ${name}`, { user: name });
    },
  },
  whoami: {
    params: [],
    login: true,
    about: "the logged-in user and the address this peer serves on",
    run: async (ctx) => {
      const d = answer(decodeWhoamiAnswer, await call(ctx, "whoami", {}));
      return said(`logged in as ${d.user} (peer address ${d.addr})`, {
        user: d.user,
        addr: d.addr,
      });
    },
  },
};

/** Resumes a stored session if the tracker still knows it; drops it if not. */
export async function resumeSession(ctx: Ctx): Promise<void> {
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
