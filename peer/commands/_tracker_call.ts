/** Sending a command to the trackers on behalf of the command layer. */
import { BadMessage } from "../../shared/protocol/bad_message.ts";
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import { NoTrackerError } from "../tracker_client/tracker_client.ts";
import { CommandError, type Ctx, type Data } from "./command.ts";

const logger = log("peer", "commands");

/** Sends a command; a refusal becomes a {@linkcode CommandError} with the tracker's words. */
export async function call(ctx: Ctx, cmd: string, args: Data): Promise<Data> {
  let res;
  try {
    res = await ctx.client.request(cmd, args);
  } catch (err) {
    if (err instanceof NoTrackerError) throw new CommandError(err.message, "unavailable");
    throw err;
  }
  if (res.ok) return res.data;
  if (res.error === "not logged in") {
    await dropSession(ctx);
    throw new CommandError(res.error, "login");
  }
  throw new CommandError(res.error);
}

/** The tracker's answer checked by `decode`; a malformed one is a {@linkcode CommandError}. */
export function answer<T>(decode: (data: Data) => T, data: Data): T {
  try {
    return decode(data);
  } catch (err) {
    if (err instanceof BadMessage) {
      throw new CommandError(`malformed answer from the tracker: ${err.message}`, "unavailable");
    }
    throw err;
  }
}

/** Forgets the session: whoever was logged in is not any more, and their files stop being served. */
export async function dropSession(ctx: Ctx): Promise<void> {
  ctx.files?.offline();
  ctx.identity.drop();
  ctx.client.token = undefined;
  ctx.user = null;
  await ctx.store.clear().catch((err) =>
    logger.warn("Cannot remove the session file: {error}", { error: describeError(err) })
  );
}

/** The objects in a list field of an answer; anything else in it is left out. */
export function objects(v: unknown): Data[] {
  if (!Array.isArray(v)) return [];
  return v.filter((x): x is Data => typeof x === "object" && x !== null && !Array.isArray(x));
}
