/**
 * The file commands: upload_file, stop_share, download_file,
 * pause_download, resume_download, cancel_download, show_downloads,
 * clear_downloads, wait.
 */
import { checkId, clip } from "../../shared/names.ts";
import { type Command, CommandError, type Ctx, said } from "./command.ts";
import type { FileService } from "../shares/file_service.ts";

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
  if (err) throw new CommandError(err, "usage");
  return id;
}

/** The file commands, merged into the command table. */
export const FILE_COMMANDS: Record<string, Command> = {
  upload_file: {
    params: ["<file_path>", "<group_id>"],
    login: true,
    noCheck: true,
    about: "hashes a file on this machine and shares it in a group",
    run: async (ctx, [a, b]) => {
      // Either order: whichever argument names an existing regular file is the path.
      const [path, g] = (await isFile(a!)) ? [a!, b!] : (await isFile(b!)) ? [b!, a!] : [a!, b!];
      return said(await files(ctx).upload(path, group(g)), { group: g });
    },
  },
  stop_share: {
    params: ["<group_id>", "<file_name>"],
    login: true,
    about: "stops offering a file you share",
    run: async (ctx, [g, name]) => said(await files(ctx).stopShare(g!, name!), { group: g, name }),
  },
  download_file: {
    params: ["<group_id>", "<file_name>", "<destination_dir>"],
    optional: 1,
    login: true,
    about: "starts downloading a file of a group into a folder (default: the current one)",
    run: async (ctx, [g, name, dest]) =>
      said(await files(ctx).download(g!, name!, dest ?? "."), { group: g, name }),
  },
  pause_download: {
    params: ["<group_id>", "<file_name>"],
    login: true,
    about: "stops a download's transfers until resume_download, across restarts too",
    run: (ctx, [g, name]) =>
      Promise.resolve(said(files(ctx).downloads.pause(g!, name!), { group: g, name })),
  },
  resume_download: {
    params: ["<group_id>", "<file_name>"],
    login: true,
    about: "continues a paused download",
    run: async (ctx, [g, name]) =>
      said(await files(ctx).downloads.resume(g!, name!), { group: g, name }),
  },
  cancel_download: {
    params: ["<group_id>", "<file_name>"],
    login: true,
    about: "stops a download and removes its .part file",
    run: async (ctx, [g, name]) =>
      said(await files(ctx).downloads.cancel(g!, name!), { group: g, name }),
  },
  show_downloads: {
    params: [],
    login: false,
    about: "your downloads with progress (every user's when nobody is logged in)",
    run: (ctx) => {
      const f = files(ctx);
      return Promise.resolve({ lines: f.showDownloads(), data: { downloads: f.downloads.list() } });
    },
  },
  clear_downloads: {
    params: [],
    login: true,
    about: "forgets your complete and failed downloads",
    run: (ctx) => Promise.resolve(said(files(ctx).downloads.clear())),
  },
  wait: {
    params: ["<seconds>"],
    optional: 1,
    login: false,
    about: "waits until your running downloads end (at most <seconds>)",
    run: async (ctx, [secs], { progress }) => {
      const timeoutMs = secs === undefined ? undefined : seconds(secs) * 1000;
      const f = files(ctx);
      await f.waitAll({
        progress: progress ? () => progress(f.downloads.list()) : undefined,
        timeoutMs,
      });
      return { lines: f.showDownloads(), data: { downloads: f.downloads.list() } };
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
      "usage",
    );
  }
  return s;
}
