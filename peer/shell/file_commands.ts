/**
 * The shell's file commands: upload_file, stop_share, download_file,
 * pause_download, resume_download, cancel_download, show_downloads,
 * clear_downloads, wait.
 */
import { checkId, clip } from "../../shared/names.ts";
import type { Command, Ctx } from "./command.ts";
import type { FileService } from "../shares/file_service.ts";

class CommandError extends Error {}

function files(ctx: Ctx): FileService {
  if (!ctx.files) throw new CommandError("file sharing is not available in this shell");
  return ctx.files;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

function group(id: string): string {
  const err = checkId("group", id);
  if (err) throw new CommandError(err);
  return id;
}

/** The file commands, merged into the shell's command table. */
export const FILE_COMMANDS: Record<string, Command> = {
  upload_file: {
    params: ["<file_path>", "<group_id>"],
    login: true,
    noCheck: true,
    run: async (ctx, [a, b]) => {
      // Either order: whichever argument names an existing regular file is the path.
      const [path, g] = (await isFile(a!)) ? [a!, b!] : (await isFile(b!)) ? [b!, a!] : [a!, b!];
      return [await files(ctx).upload(path, group(g))];
    },
  },
  stop_share: {
    params: ["<group_id>", "<file_name>"],
    login: true,
    run: async (ctx, [g, name]) => [await files(ctx).stopShare(g!, name!)],
  },
  download_file: {
    params: ["<group_id>", "<file_name>", "<destination_dir>"],
    optional: 1,
    login: true,
    run: async (ctx, [g, name, dest]) => [await files(ctx).download(g!, name!, dest ?? ".")],
  },
  pause_download: {
    params: ["<group_id>", "<file_name>"],
    login: true,
    run: (ctx, [g, name]) => Promise.resolve([files(ctx).downloads.pause(g!, name!)]),
  },
  resume_download: {
    params: ["<group_id>", "<file_name>"],
    login: true,
    run: async (ctx, [g, name]) => [await files(ctx).downloads.resume(g!, name!)],
  },
  cancel_download: {
    params: ["<group_id>", "<file_name>"],
    login: true,
    run: async (ctx, [g, name]) => [await files(ctx).downloads.cancel(g!, name!)],
  },
  show_downloads: {
    params: [],
    login: false,
    run: (ctx) => Promise.resolve(files(ctx).showDownloads()),
  },
  clear_downloads: {
    params: [],
    login: true,
    run: (ctx) => Promise.resolve([files(ctx).downloads.clear()]),
  },
  wait: {
    params: ["<seconds>"],
    optional: 1,
    login: false,
    run: async (ctx, [secs]) => {
      const timeoutMs = secs === undefined ? undefined : seconds(secs) * 1000;
      const f = files(ctx);
      await f.waitAll({
        progress: ctx.interactive
          ? () => f.showDownloads().forEach((l) => ctx.output(l))
          : undefined,
        timeoutMs,
      });
      return f.showDownloads();
    },
  },
};

/** The most `wait` waits for: about 11 days (setTimeout's limit is 24.8 days). */
const MAX_WAIT_SECONDS = 1_000_000;

function seconds(text: string): number {
  const s = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(s > 0 && s <= MAX_WAIT_SECONDS)) {
    throw new CommandError(
      `wait: "${clip(text)}" is not a number of seconds (more than 0, at most ${MAX_WAIT_SECONDS})`,
    );
  }
  return s;
}
