/**
 * The command table and the one way to run a command: arguments counted and
 * checked, the session required where it must be, every failure a
 * {@linkcode CommandError} (so the shell prints one `error: ` line and the
 * API answers a status code).
 */
import { ConnectionError, describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import { checkId, clip } from "../../shared/names.ts";
import { FileError } from "../download/file_error.ts";
import { NoTrackerError } from "../tracker_client/tracker_client.ts";
import { type Command, CommandError, type Ctx, type Outcome, type RunOptions } from "./command.ts";
import { ACCOUNT_COMMANDS } from "./account_commands.ts";
import { GROUP_COMMANDS } from "./group_commands.ts";
import { FILE_COMMANDS } from "./file_commands.ts";

const logger = log("peer", "commands");

/** Every command, in the order help lists them. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  help: {
    params: [],
    login: false,
    about: "lists the commands",
    run: () => Promise.resolve({ lines: helpLines(), data: { commands: commandList() } }),
  },
  ...ACCOUNT_COMMANDS,
  ...GROUP_COMMANDS,
  ...FILE_COMMANDS,
};

/** Runs one command; throws a {@linkcode CommandError} for every failure. */
export async function runCommand(
  ctx: Ctx,
  name: string,
  args: string[],
  options: RunOptions = {},
): Promise<Outcome> {
  try {
    const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!cmd) throw new CommandError(`unknown command "${clip(name)}" (type help)`, "unknown");
    const min = cmd.params.length - (cmd.optional ?? 0);
    if (args.length < min || args.length > cmd.params.length) {
      throw new CommandError(`usage: ${usage(name, cmd)}`, "usage");
    }
    for (const [i, param] of cmd.params.entries()) {
      if (cmd.noCheck || i >= args.length) break;
      const kind = param === "<user_id>" ? "user" : param === "<group_id>" ? "group" : null;
      const err = kind && checkId(kind, args[i]!);
      if (err) throw new CommandError(err, "usage");
    }
    if (cmd.login && ctx.client.token === undefined) {
      throw new CommandError("not logged in", "login");
    }
    logger.debug("Running {name}", { name });
    return await cmd.run(ctx, args, options);
  } catch (err) {
    if (err instanceof CommandError) throw err;
    logger.debug("{name} failed: {err}", { name, err });
    throw new CommandError(describeError(err), kindOf(err));
  }
}

function kindOf(err: unknown) {
  if (err instanceof NoTrackerError || err instanceof ConnectionError) return "unavailable";
  if (err instanceof FileError && err.message === "not logged in") return "login";
  return "refused";
}

/** The usage line of a command: `download_file <group_id> <file_name> [<destination_dir>]`. */
export function usage(name: string, cmd: Command): string {
  const opt = cmd.optional ?? 0;
  const params = cmd.params.map((p, i) => i >= cmd.params.length - opt ? `[${p}]` : p);
  return [name, ...params].join(" ");
}

/** The commands with their parameters, as help lists them. */
export function commandList(): {
  name: string;
  params: string[];
  optional: number;
  about: string;
}[] {
  return Object.entries(COMMANDS).map(([name, c]) => ({
    name,
    params: c.params.map((p) => paramName(p)),
    optional: c.optional ?? 0,
    about: c.about,
  }));
}

/** A parameter's name in the JSON API: `<group_id>` is `group_id`. */
export function paramName(param: string): string {
  return param.replace(/^<|>$/g, "");
}

function helpLines(): string[] {
  const lines = Object.entries(COMMANDS).map(([name, cmd]) => `  ${usage(name, cmd)}`);
  return ["commands:", ...lines, "  quit | exit"];
}
